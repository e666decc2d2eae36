//! `--format html` end to end: the real binary exports from an in-process slack-sim, then a real
//! headless Chromium (Debian's `chromium` + `chromium-driver`, driven through WebDriver as in
//! admin-panel's browser tests) opens the archive from `file://` with the network unreachable.
//! Screenshots go to `CARGO_TARGET_TMPDIR/slack-export-html/`.
//!
//! Without chromium the browser part fails under CI=true and skips loudly elsewhere.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use slack_sim::{Channel, SimHandle, SimOptions, Workspace};

const TOKEN: &str = "xoxp-html-test";
const XSS: &str = "C0XSS00001";
const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
const IMAGE_ID: &str = "F0IMG00001";
const T_PARENT: &str = "1767600000.000100";
const T_REPLY1: &str = "1767603600.000100";
const T_IMAGE: &str = "1767610000.000100";
const T_REPLY2: &str = "1767690000.000100";

fn workspace() -> Workspace {
    let mut ws = demo::workspace();
    ws.channels.push(Channel {
        id: XSS.into(),
        name: XSS_NAME.into(),
        created: 1_767_000_000,
        creator: "U0DEMOOPS".into(),
        members: vec!["U0DEMOAKI".into(), "U0DEMOMAR".into()],
        messages: vec![
            json!({"type": "message", "ts": T_PARENT, "thread_ts": T_PARENT, "user": "U0DEMOAKI",
                   "reply_count": 2,
                   "text": "Plan for <@U0DEMOMAR>: &lt;script&gt;alert(2)&lt;/script&gt; <https://x.example|the doc>",
                   "edited": {"user": "U0DEMOAKI", "ts": "1767600100.000000"},
                   "reactions": [{"name": "eyes", "users": ["U0DEMOMAR"], "count": 1}]}),
            json!({"type": "message", "ts": T_REPLY1, "thread_ts": T_PARENT, "user": "U0DEMOMAR",
                   "text": "first reply"}),
            json!({"type": "message", "ts": T_IMAGE, "user": "U0DEMOMAR", "text": "the chart",
                   "files": [
                       {"id": IMAGE_ID, "name": "chart.png", "mimetype": "image/png", "filetype": "png"},
                       {"id": "F0TXT00001", "name": "notes.txt", "mimetype": "text/plain"}
                   ]}),
            json!({"type": "message", "ts": T_REPLY2, "thread_ts": T_PARENT, "user": "U0DEMOAKI",
                   "text": "second reply"}),
        ],
        ..Channel::default()
    });
    ws
}

async fn run_export(sim: &SimHandle, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-export"));
    cmd.current_dir(dir)
        .args(args)
        .args(["--tz", "UTC", "--out"])
        .arg(dir.join("out"))
        .arg("--db")
        .arg(dir.join("out.db"))
        .env("SLACK_API_BASE", sim.base_url())
        .env("SLACK_TOKEN", TOKEN)
        .env("SLACK_RATE_SCALE", "off")
        .env_remove("SLACK_USER_TOKEN")
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

/// A real PNG (a 160x90 gradient), so the browser has something to decode.
fn png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0u8); // no filter
        for x in 0..width {
            raw.extend([(x * 255 / width) as u8, (y * 255 / height) as u8, 160]);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).expect("compresses");
    let idat = z.finish().expect("compressed");
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Exports the XSS channel to html with the image already downloaded where `--files` puts it
/// (`<out>/files/<FILE_ID>/<sanitised name>`); returns the archive root.
async fn export_archive(dir: &Path) -> PathBuf {
    let sim = slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        workspace(),
        SimOptions {
            token: TOKEN.into(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim starts");
    let image = dir.join("out/files").join(IMAGE_ID).join("chart.png");
    std::fs::create_dir_all(image.parent().expect("parent")).expect("files dir");
    std::fs::write(&image, png(160, 90)).expect("image");
    let out = run_export(&sim, dir, &[XSS, "#bitsafe-acme", "--format", "html"]).await;
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("out/html")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn html_archive_is_escaped_linked_and_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = export_archive(dir.path()).await;
    let index = read(&root.join("index.html"));
    assert!(
        index.contains("#&lt;img src=x onerror=alert(1)&gt;"),
        "{index}"
    );
    assert!(!index.contains("<img"), "no markup from Slack: {index}");
    assert!(!index.contains("<script"), "{index}");
    let page = read(&root.join("c/img_src_x_onerror_alert_1.html"));
    assert!(
        page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains(
        "<img src=\"../../files/F0IMG00001/chart.png\" alt=\"chart.png\" loading=\"lazy\">"
    ));
    assert!(
        page.contains("<span class=\"file missing\" title=\"not downloaded\">notes.txt</span>")
    );
    assert!(
        !page.contains("http://") && !page.contains("src=\"https"),
        "nothing from the network"
    );
    assert!(root.join("c/bitsafe-acme.html").exists());
    // Everything written is owner-only.
    let mut stack = vec![root.clone()];
    while let Some(p) = stack.pop() {
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        if p.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
            stack.extend(
                std::fs::read_dir(&p)
                    .expect("dir")
                    .map(|e| e.expect("entry").path()),
            );
        } else {
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
}

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromium and chromedriver, or `None` after saying loudly that the test is skipped (a failure
/// under CI=true).
fn tools_or_skip() -> Option<(PathBuf, PathBuf)> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let driver = PathBuf::from("/usr/bin/chromedriver");
    match chromium {
        Some(c) if driver.exists() => Some((c, driver)),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "chromium and chromium-driver must be installed in CI (apt-get install -y chromium chromium-driver)"
        ),
        _ => {
            eprintln!(
                "!!!!! SKIPPED: chromium or chromedriver is not installed (apt-get install -y chromium chromium-driver); the archive was not checked in a browser !!!!!"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Chromium with every host unresolvable and a dead proxy: a page that needed the network would
/// show it (missing style, broken image, resource entries that are not `file://`).
async fn start_offline_browser(chromium: &Path, driver: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts chromedriver");
    let driver = Driver(child);
    let mut caps = Capabilities::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,900", "--proxy-server=http://127.0.0.1:9",
                     "--host-resolver-rules=MAP * ~NOTFOUND"]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen (longer on a loaded machine).
    for attempt in 0.. {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return (driver, c),
            Err(_) if attempt < 100 => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("cannot start a chromium session through chromedriver: {e}"),
        }
    }
    unreachable!()
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Waits (up to 30 s: the machine may be busy) until `script` returns true.
async fn wait_true(c: &Client, script: &str) {
    for _ in 0..150 {
        if js(c, script).await == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never true: {script}");
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slack-export-html");
    std::fs::create_dir_all(&dir).expect("screens dir");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, c.screenshot().await.expect("screenshot")).expect("writes screenshot");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_opens_the_archive_offline_with_threads_images_and_escaped_names() {
    let Some((chromium, driver)) = tools_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = export_archive(dir.path()).await;
    let (_driver, c) = start_offline_browser(&chromium, &driver).await;

    let index_url = url::Url::from_file_path(root.join("index.html")).expect("file url");
    c.goto(index_url.as_str()).await.expect("opens index.html");
    wait_true(&c, "return document.readyState === 'complete'").await;
    // The XSS channel name is text: the link shows it literally and no <img> was created.
    let link = c
        .find(Locator::XPath("//a[contains(@href, 'img_src_x')]"))
        .await
        .expect("the channel's link");
    assert_eq!(link.text().await.expect("text"), format!("#{XSS_NAME}"));
    assert_eq!(js(&c, "return document.images.length").await, json!(0));
    let rows = js(
        &c,
        "return document.querySelectorAll('table.index tbody tr').length",
    )
    .await;
    assert_eq!(rows, json!(2));
    let _ = screenshot(&c, "index").await;

    link.click().await.expect("opens the channel page");
    wait_true(
        &c,
        "return location.href.endsWith('img_src_x_onerror_alert_1.html') && document.readyState === 'complete'",
    )
    .await;
    // Threads: the two replies sit inside their parent's article, in order.
    let nested = js(
        &c,
        "const p = document.getElementById('m-1767600000-000100');
         return Array.from(p.querySelectorAll(':scope > .replies > .msg .text')).map(e => e.textContent)",
    )
    .await;
    assert_eq!(nested, json!(["first reply", "second reply"]));
    let top_level = js(&c, "return document.querySelectorAll('main > .msg').length").await;
    assert_eq!(
        top_level,
        json!(2),
        "the replies are not top-level messages"
    );
    // The message's markup is text too.
    let text = js(
        &c,
        "return document.querySelector('#m-1767600000-000100 > .text').textContent",
    )
    .await;
    assert_eq!(
        text,
        json!("Plan for @Maria: <script>alert(2)</script> the doc")
    );
    assert_eq!(
        js(&c, "return document.querySelectorAll('script').length").await,
        json!(0)
    );
    // The image is decoded from the local file; the stylesheet applied.
    wait_true(
        &c,
        "const i = document.querySelector('.files img'); return i.complete && i.naturalWidth > 0",
    )
    .await;
    assert_eq!(
        js(
            &c,
            "return document.querySelector('.files img').naturalWidth"
        )
        .await,
        json!(160)
    );
    assert_eq!(
        js(
            &c,
            "return getComputedStyle(document.querySelector('.replies')).borderLeftStyle"
        )
        .await,
        json!("solid")
    );
    // Everything the page loads (stylesheet, images; there is no script) comes from disk; the
    // browser has no network to fall back on anyway.
    let loaded = js(
        &c,
        "return Array.from(document.querySelectorAll('img, link, script, iframe, object, embed, source'))
             .map(e => e.src || e.href || '')",
    )
    .await;
    let loaded = loaded.as_array().expect("list");
    assert_eq!(loaded.len(), 2, "the stylesheet and the image: {loaded:?}");
    assert!(
        loaded
            .iter()
            .all(|u| u.as_str().is_some_and(|u| u.starts_with("file://"))),
        "{loaded:?}"
    );
    let shot = screenshot(&c, "channel").await;
    eprintln!("screenshot: {}", shot.display());
    c.close().await.expect("closes the browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_channel_gets_a_page_per_month() {
    // 5100 messages, an hour apart from 2026-01-25: over the 5000 of one page, across three months.
    let mut ws = demo::workspace();
    let start = 1_769_299_200i64; // 2026-01-25T00:00:00Z
    ws.channels.push(Channel {
        id: "C0LONG0001".into(),
        name: "long".into(),
        created: 1_767_000_000,
        creator: "U0DEMOOPS".into(),
        members: vec!["U0DEMOAKI".into()],
        messages: (0..5100)
            .map(|i| {
                json!({"type": "message", "ts": format!("{}.000100", start + i * 3600),
                       "user": "U0DEMOAKI", "text": format!("message {i}")})
            })
            .collect(),
        ..Channel::default()
    });
    let sim = slack_sim::start(
        ([127, 0, 0, 1], 0).into(),
        ws,
        SimOptions {
            token: TOKEN.into(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_export(&sim, dir.path(), &["#long", "--format", "html"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dir.path().join("out/html");
    let index = read(&root.join("index.html"));
    assert!(
        index.contains("<a href=\"c/long/index.html\">#long</a>"),
        "{index}"
    );
    assert!(
        index.contains("<td class=\"num\">5100</td><td>2026-01-25</td><td>2026-08-25</td>"),
        "{index}"
    );
    let months = read(&root.join("c/long/index.html"));
    // 2026-01-25 .. 2026-08-25: eight months, every message on exactly one page.
    let pages: Vec<String> = (1..=8).map(|m| format!("2026-{m:02}")).collect();
    let mut total = 0;
    for (i, month) in pages.iter().enumerate() {
        assert!(
            months.contains(&format!("<a href=\"{month}.html\">{month}</a>")),
            "{months}"
        );
        let page = read(&root.join(format!("c/long/{month}.html")));
        total += page.matches("<article class=\"msg\"").count();
        if i > 0 {
            assert!(page.contains(&format!("rel=\"prev\" href=\"{}.html\"", pages[i - 1])));
        }
        if i + 1 < pages.len() {
            assert!(page.contains(&format!("rel=\"next\" href=\"{}.html\"", pages[i + 1])));
        }
    }
    assert_eq!(total, 5100);
    assert!(!root.join("c/long.html").exists());
}

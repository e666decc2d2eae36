use super::*;

fn msg(id: &str, time: &str, text: Vec<Inline>) -> Message {
    Message {
        id: id.into(),
        time: time.parse().expect("time"),
        sender: "Ann <b>".into(),
        text,
        edited: false,
        notes: Vec::new(),
        reactions: Vec::new(),
        attachments: Vec::new(),
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_conversation_page_escapes_everything_and_nests_replies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("html");
    let mut w = ArchiveWriter::create(&root, "Export <x>", TimeZone::UTC).expect("create");
    let info = ConversationInfo {
        id: "C1".into(),
        name: "#<img src=x onerror=alert(1)>".into(),
        topic: Some("<script>t</script>".into()),
    };
    let mut c = w.begin_conversation(&info, 3).expect("begin");
    let mut parent = msg(
        "1.000100",
        "2026-01-05T08:00:00Z",
        vec![
            Inline::Text("hi <b>bold</b>\nline2 ".into()),
            Inline::Mention("@Maria".into()),
            Inline::Text(" ".into()),
            Inline::Link {
                url: "javascript:alert(1)".into(),
                label: Some("click".into()),
            },
            Inline::Text(" ".into()),
            Inline::Link {
                url: "https://x.example/?a=1&b=\"2\"".into(),
                label: Some("doc".into()),
            },
        ],
    );
    parent.edited = true;
    parent.reactions = vec![Reaction {
        name: "eyes".into(),
        count: 2,
        users: vec!["Maria".into()],
    }];
    parent.attachments = vec![
        Attachment {
            name: "pic <1>.png".into(),
            local_path: Some("../files/F1/pic <1>.png".into()),
            is_image: true,
        },
        Attachment {
            name: "gone.pdf".into(),
            local_path: None,
            is_image: false,
        },
        Attachment {
            name: "abs".into(),
            local_path: Some("/etc/passwd".into()),
            is_image: false,
        },
    ];
    c.message(&parent, false).expect("parent");
    c.message(&msg("1.2", "2026-01-05T09:00:00Z", vec![]), true)
        .expect("reply");
    c.message(&msg("2", "2026-01-05T10:00:00Z", vec![]), false)
        .expect("next");
    w.end_conversation(c).expect("end");
    w.finish().expect("finish");

    let page = read(&root.join("c/img_src_x_onerror_alert_1.html"));
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("hi &lt;b&gt;bold&lt;/b&gt;<br>\nline2 "));
    assert!(page.contains("<span class=\"mention\">@Maria</span>"));
    assert!(!page.contains("href=\"javascript"), "only http(s) links");
    assert!(page.contains("click (javascript:alert(1))"));
    assert!(page.contains(
        "<a href=\"https://x.example/?a=1&amp;b=&quot;2&quot;\" rel=\"noopener noreferrer\">doc</a>"
    ));
    assert!(page.contains("<span class=\"edited\">(edited)</span>"));
    assert!(page.contains("<li title=\"Maria\">:eyes: 2</li>"));
    assert!(
        page.contains("<img src=\"../../files/F1/pic%20%3C1%3E.png\" alt=\"pic &lt;1&gt;.png\""),
        "{page}"
    );
    assert!(page.contains("<span class=\"file missing\" title=\"not downloaded\">gone.pdf</span>"));
    assert!(
        !page.contains("/etc/passwd\""),
        "absolute paths are not linked"
    );
    // The reply sits inside its parent's article; the next message after it.
    let parent_at = page.find("id=\"m-1-000100\"").expect("parent");
    let replies_at = page.find("<div class=\"replies\">").expect("replies");
    let reply_at = page.find("id=\"m-1-2\"").expect("reply");
    let close_at = page[reply_at..].find("</div>\n</article>").expect("closed") + reply_at;
    let next_at = page.find("id=\"m-2\"").expect("next");
    assert!(parent_at < replies_at && replies_at < reply_at && close_at < next_at);
    assert_eq!(
        page.matches("<article").count(),
        page.matches("</article>").count()
    );

    let index = read(&root.join("index.html"));
    assert!(index.contains("<title>Export &lt;x&gt;</title>"));
    assert!(index.contains(
        "<a href=\"c/img_src_x_onerror_alert_1.html\">#&lt;img src=x onerror=alert(1)&gt;</a>"
    ));
    assert!(index.contains("<td class=\"num\">3</td><td>2026-01-05</td><td>2026-01-05</td>"));
    assert!(root.join("style.css").exists());
    assert!(!index.contains("<script") && !page.contains("<script"));
}

#[test]
fn long_conversations_get_a_page_per_month_with_navigation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("html");
    let mut w = ArchiveWriter::create(&root, "t", TimeZone::UTC)
        .expect("create")
        .month_split(2);
    let info = ConversationInfo {
        id: "C1".into(),
        name: "#big".into(),
        topic: None,
    };
    let mut c = w.begin_conversation(&info, 4).expect("begin");
    c.message(&msg("1", "2026-01-31T23:00:00Z", vec![]), false)
        .expect("jan");
    // A reply in February stays with its January parent.
    c.message(&msg("1.1", "2026-02-02T00:00:00Z", vec![]), true)
        .expect("reply");
    c.message(&msg("2", "2026-02-01T00:00:00Z", vec![]), false)
        .expect("feb");
    c.message(&msg("3", "2026-04-01T00:00:00Z", vec![]), false)
        .expect("apr");
    w.end_conversation(c).expect("end");
    w.finish().expect("finish");
    let jan = read(&root.join("c/big/2026-01.html"));
    assert!(
        jan.contains("id=\"m-1-1\""),
        "the reply is on its parent's page"
    );
    assert!(jan.contains("<a rel=\"next\" href=\"2026-02.html\">2026-02 →</a>"));
    assert!(jan.contains("href=\"../../style.css\""));
    let feb = read(&root.join("c/big/2026-02.html"));
    assert!(feb.contains("<a rel=\"prev\" href=\"2026-01.html\">← 2026-01</a>"));
    assert!(feb.contains("<a rel=\"next\" href=\"2026-04.html\">"));
    let apr = read(&root.join("c/big/2026-04.html"));
    assert!(!apr.contains("rel=\"next\""));
    let months = read(&root.join("c/big/index.html"));
    assert!(
        months.contains(
            "<a href=\"2026-01.html\">2026-01</a> <span class=\"count\">2 messages</span>"
        )
    );
    assert!(read(&root.join("index.html")).contains("href=\"c/big/index.html\""));
}

#[test]
fn stems_are_safe_and_unique() {
    let mut used = HashSet::new();
    assert_eq!(unique_stem(&mut used, "#acme", "C1"), "acme");
    assert_eq!(unique_stem(&mut used, "ACME", "C2"), "ACME-2");
    assert_eq!(unique_stem(&mut used, "../..", "C3"), "C3");
    assert_eq!(unique_stem(&mut used, "", "../"), "conversation");
    assert_eq!(unique_stem(&mut used, "größe", "C5"), "gr__e");
    assert_eq!(unique_stem(&mut used, &"x".repeat(300), "C6").len(), 80);
}

#[test]
fn only_plain_relative_paths_are_linked() {
    assert_eq!(
        local_href("../files/F1/a b.png").as_deref(),
        Some("../files/F1/a%20b.png")
    );
    assert_eq!(
        local_href("files/F1/%2e%2e").as_deref(),
        Some("files/F1/%252e%252e")
    );
    for bad in [
        "/etc/passwd",
        "C:\\x",
        "javascript:alert(1)",
        "a//b",
        "./a",
        "",
    ] {
        assert_eq!(local_href(bad), None, "{bad}");
    }
}

/// Exporting into an archive that already holds conversations keeps them in the index (their
/// pages are still there); a conversation exported again keeps its page and its one row.
#[test]
fn later_exports_into_the_same_archive_keep_the_earlier_conversations_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("html");
    let export = |id: &str, name: &str, text: &str| {
        let mut w = ArchiveWriter::create(&root, "Export", TimeZone::UTC).expect("create");
        let info = ConversationInfo {
            id: id.into(),
            name: name.into(),
            topic: None,
        };
        let mut c = w.begin_conversation(&info, 1).expect("begin");
        c.message(
            &msg(
                "1.0",
                "2026-01-05T08:00:00Z",
                vec![Inline::Text(text.into())],
            ),
            false,
        )
        .expect("message");
        w.end_conversation(c).expect("end");
        w.finish().expect("finish");
    };
    let rows = |index: &str| index.matches("<tr><td>").count();
    export("C1", "#acme", "first");
    export("C2", "#globex", "second");
    let index = read(&root.join("index.html"));
    assert_eq!(rows(&index), 2, "{index}");
    assert!(
        index.contains("c/acme.html") && index.contains("c/globex.html"),
        "{index}"
    );

    // acme again, with new content: same page, one row.
    export("C1", "#acme", "updated");
    let index = read(&root.join("index.html"));
    assert_eq!(rows(&index), 2, "{index}");
    assert!(read(&root.join("c/acme.html")).contains("updated"));
    assert!(!root.join("c/acme-2.html").exists());

    // A page removed by hand drops out of the index at the next export.
    std::fs::remove_file(root.join("c/globex.html")).expect("removes");
    export("C1", "#acme", "again");
    let index = read(&root.join("index.html"));
    assert_eq!(rows(&index), 1, "{index}");
}

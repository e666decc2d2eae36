//! The PostgreSQL side of [`Db`](super::Db): a connection on its own worker thread, the URL
//! (password kept out of every message), placeholder translation, and value conversion.
//!
//! Why a worker thread: the store's API is synchronous (rusqlite's), and the tools call it from
//! async code. The sync `postgres` client drives its own Tokio runtime with `block_on`, which
//! panics on a thread that already runs one. On its own thread it never does; callers hand it a
//! job and wait on a plain channel, as they would wait on SQLite's disk.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use super::value::{Value, ValueRef};
use super::{DbError, Result};

/// A Postgres database named by a URL (`postgres://` or `postgresql://`). The password is kept
/// inside the parsed config only; [`PgTarget::shown`] and `Debug` leave it out.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    shown: String,
    /// `sslrootcert=FILE`: the CA that signed the server's certificate (a private CA, as managed
    /// servers use); the public web roots otherwise.
    root_cert: Option<std::path::PathBuf>,
    /// Whether the server's certificate is checked: as libpq does, for `verify-ca`/`verify-full`
    /// or when `sslrootcert` is given; `prefer` and `require` alone only encrypt.
    verify: bool,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Whether `s` names a Postgres database rather than a SQLite file.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// Why a URL could not be used. Never holds the URL itself (it may hold the password).
#[derive(Debug, thiserror::Error)]
#[error(
    "the PostgreSQL URL is not valid: {reason}\n\
     hint: write it as postgres://USER:PASSWORD@HOST:5432/DATABASE (percent-encode special characters in the password)"
)]
pub struct UrlError {
    reason: String,
}

impl PgTarget {
    pub fn parse(url: &str) -> Result<PgTarget, UrlError> {
        let (url, root_cert, verify_mode) = split_tls_options(url);
        let verify = verify_mode || root_cert.is_some();
        let mut config = postgres::Config::from_str(&url).map_err(|e| UrlError {
            // tokio-postgres' parse errors name the option, never its value.
            reason: e.to_string(),
        })?;
        if config.get_hosts().is_empty() {
            return Err(UrlError {
                reason: "it names no host".into(),
            });
        }
        if config.get_dbname().is_none() {
            return Err(UrlError {
                reason: "it names no database (the path after the host, /DATABASE)".into(),
            });
        }
        if config.get_connect_timeout().is_none() {
            // A host that drops packets would otherwise hang a cron job for minutes.
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("slack-tools");
        }
        let shown = shown(&config);
        Ok(PgTarget {
            config,
            shown,
            root_cert,
            verify,
        })
    }

    /// `postgres://user@host:port/database`: what messages and logs show.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `host:port`, for "cannot connect" messages.
    pub fn host_port(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    /// The same server and credentials, another database (tests create one per test).
    pub fn with_dbname(&self, dbname: &str) -> PgTarget {
        let mut config = self.config.clone();
        config.dbname(dbname);
        let shown = shown(&config);
        PgTarget {
            config,
            shown,
            root_cert: self.root_cert.clone(),
            verify: self.verify,
        }
    }

    /// Opens a connection on its own worker thread.
    pub fn connect(&self) -> Result<PgConn, Box<ConnectError>> {
        let config = self.config.clone();
        let fail = |reason: String| {
            Box::new(ConnectError {
                target: self.shown.clone(),
                host_port: self.host_port(),
                dbname: self.dbname().to_string(),
                user: self.user().to_string(),
                reason,
                code: None,
            })
        };
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Disable => None,
            _ => Some(tls_connector(self.root_cert.as_deref(), self.verify).map_err(fail)?),
        };
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("postgres".into())
            .spawn(move || {
                let connected = match tls {
                    Some(tls) => config.connect(tls),
                    None => config.connect(NoTls),
                };
                let client = match connected {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut worker = Worker {
                    client,
                    statements: HashMap::new(),
                };
                // Ends when the PgConn is dropped (its sender goes away).
                while let Ok(job) = jobs_rx.recv() {
                    job(&mut worker);
                }
            })
            .map_err(|e| {
                Box::new(ConnectError {
                    target: self.shown.clone(),
                    host_port: self.host_port(),
                    dbname: self.dbname().to_string(),
                    user: self.user().to_string(),
                    reason: format!("cannot start a thread: {e}"),
                    code: None,
                })
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(PgConn {
                jobs: Some(jobs_tx),
                thread: Some(thread),
                shown: self.shown.clone(),
            }),
            Ok(Err(e)) => Err(Box::new(ConnectError {
                target: self.shown.clone(),
                host_port: self.host_port(),
                dbname: self.dbname().to_string(),
                user: self.user().to_string(),
                reason: describe(&e),
                code: e.code().cloned(),
            })),
            Err(_) => Err(Box::new(ConnectError {
                target: self.shown.clone(),
                host_port: self.host_port(),
                dbname: self.dbname().to_string(),
                user: self.user().to_string(),
                reason: "the connection thread stopped".into(),
                code: None,
            })),
        }
    }
}

/// Takes the TLS options tokio-postgres does not read out of the URL's query: `sslrootcert=FILE`
/// (returned), and `sslmode=verify-ca|verify-full` (returned as "verify"; both check the host name
/// too, which rustls always does, and connect as `require`).
fn split_tls_options(url: &str) -> (String, Option<std::path::PathBuf>, bool) {
    let at = url.rfind('@').unwrap_or(0);
    let Some(q) = url[at..].find('?').map(|q| q + at) else {
        return (url.to_string(), None, false);
    };
    let mut root = None;
    let mut verify = false;
    let mut kept = Vec::new();
    for pair in url[q + 1..].split('&') {
        match pair.split_once('=') {
            Some(("sslrootcert", v)) => root = Some(std::path::PathBuf::from(v)),
            Some(("sslmode", "verify-ca" | "verify-full")) => {
                verify = true;
                kept.push("sslmode=require");
            }
            _ => kept.push(pair),
        }
    }
    let mut out = url[..q].to_string();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    (out, root, verify)
}

/// libpq's `prefer`/`require` without a root certificate: the connection is encrypted but the
/// server's certificate is not checked (what psql does with the same URL). `verify-full` or
/// `sslrootcert` gives the full check.
#[derive(Debug)]
struct EncryptOnly(rustls::crypto::WebPkiSupportedAlgorithms);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// rustls with the public web roots, or only the CA in `root_cert`.
fn tls_connector(
    root_cert: Option<&std::path::Path>,
    verify: bool,
) -> std::result::Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    if !verify {
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(EncryptOnly(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth();
        return Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config));
    }
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn shown(config: &postgres::Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}{port}/{db}")
}

/// A connection that could not be made: names host, port, database and the fix, never the
/// password.
#[derive(Debug)]
pub struct ConnectError {
    pub target: String,
    pub host_port: String,
    pub dbname: String,
    pub user: String,
    pub reason: String,
    pub code: Option<postgres::error::SqlState>,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use postgres::error::SqlState;
        write!(
            f,
            "cannot connect to PostgreSQL at {}, database {:?} (user {:?}): {}\nhint: ",
            self.host_port, self.dbname, self.user, self.reason
        )?;
        match &self.code {
            Some(c) if *c == SqlState::INVALID_PASSWORD => f.write_str(
                "the password or user in the URL is wrong (the password is not shown); fix --db or DATABASE_URL",
            ),
            Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => f.write_str(
                "the server refuses this user from this host: check the user in the URL and the server's pg_hba.conf",
            ),
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => write!(
                f,
                "create the database first (createdb -h HOST -p PORT -U {} {}), or fix its name in the URL",
                self.user, self.dbname
            ),
            _ => f.write_str(
                "check that the server runs and listens on that host and port (pg_isready -h HOST -p PORT), \
                 or fix the URL in --db or DATABASE_URL",
            ),
        }
    }
}

impl StdError for ConnectError {}

/// A Postgres error as one line: the server's message and detail, or the client's reason.
pub fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} ({})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s.push_str(": ");
            s.push_str(d);
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// The worker thread's side: the client and its prepared statements.
pub struct Worker {
    pub client: Client,
    statements: HashMap<String, Statement>,
}

impl Worker {
    /// A prepared statement for store SQL (`?N` placeholders), prepared once per connection.
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.prepare(&translate_placeholders(sql))?;
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

/// A connection to Postgres, served by one worker thread.
pub struct PgConn {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    shown: String,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl PgConn {
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs `f` on the worker thread with the client, and waits for its answer. For what only
    /// Postgres does well (binding whole arrays for bulk writes, advisory locks).
    pub fn with_client<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> R + Send + 'static,
    ) -> Result<R> {
        self.call(move |w| f(&mut w.client))
    }

    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or(DbError::Disconnected)?;
        jobs.send(Box::new(move |w| {
            let _ = tx.send(f(w));
        }))
        .map_err(|_| DbError::Disconnected)?;
        rx.recv().map_err(|_| DbError::Disconnected)
    }

    pub(crate) fn execute(&self, sql: &str, values: &[ValueRef<'_>]) -> Result<usize> {
        let sql = sql.to_string();
        let params: Vec<PgParam> = values.iter().map(|v| PgParam(Value::from(*v))).collect();
        let n = self.call(move |w| {
            let stmt = w.statement(&sql)?;
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            w.client.execute(&stmt, &refs)
        })??;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(crate) fn query(&self, sql: &str, values: &[ValueRef<'_>]) -> Result<Vec<postgres::Row>> {
        let sql = sql.to_string();
        let params: Vec<PgParam> = values.iter().map(|v| PgParam(Value::from(*v))).collect();
        Ok(self.call(move |w| {
            let stmt = w.statement(&sql)?;
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            w.client.query(&stmt, &refs)
        })??)
    }

    pub(crate) fn batch(&self, sql: &str) -> Result<()> {
        let sql = sql.to_string();
        Ok(self.call(move |w| w.client.batch_execute(&sql))??)
    }
}

/// Rewrites SQLite's `?N` and `?` placeholders as Postgres' `$N`, leaving string literals, quoted
/// names and comments alone.
pub fn translate_placeholders(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    let mut next_auto = 1u32;
    let mut max_seen = 0u32;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                let start = i;
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        // A doubled quote is an escaped quote, still inside.
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push_str(&sql[start..i]);
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                out.push_str(&sql[start..i]);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(b.len());
                out.push_str(&sql[start..i]);
            }
            b'?' => {
                i += 1;
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n = if start == i {
                    // A bare `?` takes the number after the largest so far, as in SQLite.
                    let n = max_seen.max(next_auto - 1) + 1;
                    next_auto = n + 1;
                    n
                } else {
                    sql[start..i].parse().unwrap_or(0)
                };
                max_seen = max_seen.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => {
                // Copy the whole UTF-8 character.
                let ch = sql[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// A parameter as Postgres wants it: converted to the type the server inferred for its place.
#[derive(Debug)]
struct PgParam(Value);

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for PgParam {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        let text_like = matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        );
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::NUMERIC => encode_numeric_decimal(&i.to_string(), out),
                _ if text_like => i.to_string().as_str().to_sql(&Type::TEXT, out),
                _ => Err(format!("cannot send an integer as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::NUMERIC if f.is_finite() => encode_numeric_decimal(&f.to_string(), out),
                _ if text_like => f.to_string().as_str().to_sql(&Type::TEXT, out),
                _ => Err(format!("cannot send a real as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                Type::JSON | Type::JSONB => {
                    if *ty == Type::JSONB {
                        out.extend_from_slice(&[1]);
                    }
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                _ if text_like => s.as_str().to_sql(&Type::TEXT, out),
                _ => Err(format!("cannot send text as {ty}").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("cannot send a blob as {ty}").into()),
            },
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A decimal number (as Rust prints integers and finite floats: no exponent) as a NUMERIC in
/// Postgres' binary format: base-10000 digits around the decimal point.
fn encode_numeric_decimal(text: &str, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return Err(format!("{text:?} is not a decimal number").into());
    }
    let int = int.trim_start_matches('0');
    let dscale = frac.len() as i16;
    // Pad to whole groups of 4 digits on both sides of the point.
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let digits_text = format!("{}{int}{frac}{}", "0".repeat(int_pad), "0".repeat(frac_pad));
    let mut groups: Vec<i16> = digits_text
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = ((int.len() + int_pad) / 4) as i16 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(
        &(if neg && !groups.is_empty() {
            0x4000u16
        } else {
            0
        })
        .to_be_bytes(),
    );
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(IsNull::No)
}

/// NUMERIC (what SUM and AVG of integers give) read as an integer when it is whole, else a real.
struct Numeric(Value);

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let rd = |i: usize| -> std::result::Result<i16, BoxError> {
            let b = raw.get(i..i + 2).ok_or("NUMERIC value is cut short")?;
            Ok(i16::from_be_bytes([b[0], b[1]]))
        };
        let ndigits = rd(0)? as usize;
        let weight = rd(2)? as i32;
        let sign = rd(4)? as u16;
        if sign == 0xC000 {
            return Ok(Numeric(Value::Real(f64::NAN)));
        }
        let mut whole: i128 = 0;
        let mut frac = 0f64;
        let mut integral = true;
        for k in 0..ndigits {
            let d = rd(8 + 2 * k)? as i128;
            let pos = weight - k as i32; // power of 10000
            if pos >= 0 {
                whole = whole
                    .checked_mul(10_000)
                    .and_then(|w| w.checked_add(d))
                    .ok_or("NUMERIC value is too large")?;
            } else if d != 0 {
                integral = false;
                frac += d as f64 * 10_000f64.powi(pos);
            }
        }
        // Digits stop before the units: scale the whole part up.
        let last_pos = weight - ndigits as i32 + 1;
        if last_pos > 0 && ndigits > 0 {
            for _ in 0..last_pos.min(weight + 1) {
                whole = whole
                    .checked_mul(10_000)
                    .ok_or("NUMERIC value is too large")?;
            }
        }
        let neg = sign == 0x4000;
        if integral {
            let v = i64::try_from(if neg { -whole } else { whole })?;
            Ok(Numeric(Value::Int(v)))
        } else {
            let v = whole as f64 + frac;
            Ok(Numeric(Value::Real(if neg { -v } else { v })))
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// Column `i` of a Postgres row as a [`Value`], by the column's type.
pub(crate) fn column(row: &postgres::Row, i: usize) -> std::result::Result<Value, String> {
    let ty = row
        .columns()
        .get(i)
        .ok_or_else(|| format!("no column {i} (the row has {})", row.len()))?
        .type_()
        .clone();
    let err = |e: postgres::Error| describe(&e);
    Ok(match ty {
        Type::INT8 => opt(row.try_get::<_, Option<i64>>(i).map_err(err)?, Value::Int),
        Type::INT4 => opt(row.try_get::<_, Option<i32>>(i).map_err(err)?, |v| {
            Value::Int(v.into())
        }),
        Type::INT2 => opt(row.try_get::<_, Option<i16>>(i).map_err(err)?, |v| {
            Value::Int(v.into())
        }),
        Type::OID => opt(row.try_get::<_, Option<u32>>(i).map_err(err)?, |v| {
            Value::Int(v.into())
        }),
        Type::BOOL => opt(row.try_get::<_, Option<bool>>(i).map_err(err)?, |v| {
            Value::Int(v.into())
        }),
        Type::FLOAT8 => opt(row.try_get::<_, Option<f64>>(i).map_err(err)?, Value::Real),
        Type::FLOAT4 => opt(row.try_get::<_, Option<f32>>(i).map_err(err)?, |v| {
            Value::Real(v.into())
        }),
        Type::NUMERIC => opt(row.try_get::<_, Option<Numeric>>(i).map_err(err)?, |n| n.0),
        Type::BYTEA => opt(
            row.try_get::<_, Option<Vec<u8>>>(i).map_err(err)?,
            Value::Blob,
        ),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => opt(
            row.try_get::<_, Option<String>>(i).map_err(err)?,
            Value::Text,
        ),
        other => {
            return Err(format!(
                "has the Postgres type {other}, which the store does not read"
            ));
        }
    })
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    v.map(f).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_numbers_outside_literals() {
        assert_eq!(
            translate_placeholders("SELECT a FROM t WHERE b = ?2 AND c = ?1"),
            "SELECT a FROM t WHERE b = $2 AND c = $1"
        );
        assert_eq!(
            translate_placeholders("VALUES (?, ?, ?)"),
            "VALUES ($1, $2, $3)"
        );
        assert_eq!(
            translate_placeholders("SELECT '?1', \"a?\" -- ?3\n, ?1 /* ? */"),
            "SELECT '?1', \"a?\" -- ?3\n, $1 /* ? */"
        );
        assert_eq!(
            translate_placeholders("SELECT 'it''s ?', ?"),
            "SELECT 'it''s ?', $1"
        );
        assert_eq!(
            translate_placeholders("x = 'é' AND y = ?1"),
            "x = 'é' AND y = $1"
        );
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        let t = PgTarget::parse("postgres://alice:s3cret-pw@db.example:6543/slack?sslmode=disable")
            .expect("parses");
        assert_eq!(t.shown(), "postgres://alice@db.example:6543/slack");
        assert!(!format!("{t:?} {t}").contains("s3cret"));
        let e =
            PgTarget::parse("postgres://alice:s3cret-pw@db.example:6543").expect_err("no database");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("names no database"), "{e}");
        let e =
            PgTarget::parse("postgresql://alice:s3cret-pw@h/db?sslmode=bogus").expect_err("bad");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}

//! The IMAP mail source: `imap://user:pass@host:port/INBOX`. New messages are fetched by UID,
//! processed in batches whose reports and mailbox position (UIDVALIDITY, last UID) commit in one
//! transaction, and only then flagged \Seen or moved to the processed folder. Between batches
//! the connection waits in IDLE when the server offers it, and polls otherwise. A lost
//! connection is retried with capped exponential backoff; each change is one log line.

use std::collections::BTreeSet;
use std::time::Duration;

use async_imap::Session;
use async_imap::extensions::idle::IdleResponse;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest::{Ingestor, Raw};
use crate::mail::lease::{Fleet, LetGo};
use crate::mail::server_url::{self, Refused, percent_decode};
use crate::mail::transport::Transport;
use crate::outbox::channel::Channels;
use crate::store::Store;
use crate::store::mailbox::save_mailbox_state;

/// Messages per transaction: small enough that a restart redoes little, large enough that a
/// backlog is not one fsync per message.
const BATCH: usize = 200;
/// RFC 2177: re-issue IDLE before the server's 30-minute inactivity timeout.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

#[derive(Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub mailbox: String,
}

impl std::fmt::Debug for ImapUrl {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl ImapUrl {
    pub fn parse(s: &str) -> Result<ImapUrl> {
        let bad = |msg: &str| {
            Error::bad(
                "mail.source",
                format!("{msg}, got {:?}", crate::store::redact(s)),
            )
        };
        let u = server_url::parse(s, ("imap", "imaps"), (143, 993)).map_err(|why| {
            bad(match why {
                Refused::Scheme => "expected imap://user:pass@host:port/MAILBOX",
                Refused::Port => "expected a port number",
                Refused::Host => "expected a host",
            })
        })?;
        let Some(password) = u.password else {
            return Err(bad(if u.user.is_empty() {
                "expected user:pass@ before the host"
            } else {
                "expected user:pass"
            }));
        };
        // Everything after the host's `/`, `%XX` decoded: `INBOX`, `INBOX/受信`.
        let mailbox = u.rest.strip_prefix('/').unwrap_or(&u.rest);
        Ok(ImapUrl {
            tls: u.tls,
            host: u.host,
            port: u.port,
            user: u.user,
            password,
            mailbox: if mailbox.is_empty() {
                "INBOX".into()
            } else {
                percent_decode(mailbox)
            },
        })
    }

    /// The mailbox's identity in the database and in logs (no password).
    pub fn display(&self) -> String {
        // An IPv6 address in brackets, as the URL writes it.
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{}@{host}:{}/{}",
            if self.tls { "imaps" } else { "imap" },
            self.user,
            self.port,
            self.mailbox
        )
    }
}

/// Any stream the IMAP session can run on (plain TCP or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

type ImapSession = Session<Box<dyn Io>>;

async fn connect(url: &ImapUrl) -> Result<ImapSession> {
    let tcp = tokio::time::timeout(
        Duration::from_secs(30),
        TcpStream::connect((url.host.as_str(), url.port)),
    )
    .await
    .map_err(|_| Error::Mail(format!("{}: connection timed out", url.display())))?
    .map_err(|e| Error::Mail(format!("{}: {e}", url.display())))?;
    let stream: Box<dyn Io> = if url.tls {
        Box::new(crate::mail::tls::connect(&url.host, tcp).await?)
    } else {
        Box::new(tcp)
    };
    let mut client = async_imap::Client::new(stream);
    // The server speaks first; a client that sends before the greeting confuses some servers.
    client
        .read_response()
        .await
        .map_err(|e| Error::Mail(format!("{}: no greeting: {e}", url.display())))?;
    client
        .login(&url.user, &url.password)
        .await
        .map_err(|(e, _)| Error::Mail(format!("{}: login failed: {e}", url.display())))
}

/// `step` within `[mail] imap_timeout_seconds`: a server that stops answering in the middle of
/// a command drops the session (opened again after the usual pause) instead of holding the
/// city's mailbox until the TCP connection dies, which on a quiet network may be never.
async fn answered<T>(
    cfg: &Config,
    url: &ImapUrl,
    what: &str,
    step: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let limit = Duration::from_secs(cfg.mail.imap_timeout_seconds);
    tokio::time::timeout(limit, step).await.map_err(|_| {
        Error::Mail(format!(
            "{}: {what}: no answer within {} s",
            url.display(),
            limit.as_secs()
        ))
    })?
}

/// Says goodbye on the way out, waiting no longer than for any other command; a server that
/// does not answer is left as it is.
async fn log_out(cfg: &Config, mut s: ImapSession) {
    let limit = Duration::from_secs(cfg.mail.imap_timeout_seconds);
    let _ = tokio::time::timeout(limit, s.logout()).await;
}

fn imap_err(url: &ImapUrl, what: &str) -> impl Fn(async_imap::error::Error) -> Error {
    let name = url.display();
    let what = what.to_string();
    move |e| Error::Mail(format!("{name}: {what}: {e}"))
}

/// The source loop: returns when `stop` turns true, after the batch in hand is committed. The
/// mailbox is read only while this daemon holds its lease (`fleet`, see `mail::lease`); while
/// another daemon holds it, this one stands by and takes it over when that one stops or dies.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: Store,
    cfg: Config,
    transport: std::sync::Arc<Transport>,
    channels: Channels,
    clock: crate::clock::Clock,
    health: crate::health::SharedHealth,
    fleet: std::sync::Arc<Fleet>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let url = ImapUrl::parse(&cfg.mail.source)?;
    let key = url.display();
    fleet.serve(true);
    let mut outcome = Ok(());
    while fleet.acquire(&store, &key, clock, &mut stop).await {
        tracing::info!(mailbox = %key, "mailbox lease taken: this daemon reads it");
        health.set_mailbox_held(true);
        // `lost` ends the reading (after the batch in hand) when the lease is let go;
        // `ended` tells the lease the reading returned by itself.
        let (lost_tx, mut lost) = watch::channel(false);
        let (ended_tx, mut ended) = watch::channel(false);
        let reading = async {
            let r = read(
                &store,
                &cfg,
                &url,
                (&transport, &channels, clock),
                &mut lost,
                &health,
            )
            .await;
            let _ = ended_tx.send(true);
            r
        };
        let holding = async {
            let why = fleet.keep(&store, &key, clock, &mut stop, &mut ended).await;
            let _ = lost_tx.send(true);
            why
        };
        let (r, why) = tokio::join!(reading, holding);
        health.set_mailbox_held(false);
        health.set_mailbox_connected(false);
        fleet.let_go(&store, &key, clock, why).await;
        match why {
            LetGo::Lost => {
                tracing::warn!(mailbox = %key, "another daemon took the mailbox's lease; this one stands by")
            }
            LetGo::HandedOver => {
                tracing::info!(mailbox = %key, "mailbox handed to a daemon short of its part")
            }
            LetGo::Stopped | LetGo::Ended => {}
        }
        if r.is_err() || why == LetGo::Stopped {
            outcome = r;
            break;
        }
    }
    fleet.serve(false);
    outcome
}

/// Reads the mailbox until `stop` turns true: a session, opened again with growing pauses
/// whenever it breaks.
async fn read(
    store: &Store,
    cfg: &Config,
    url: &ImapUrl,
    out: (&Transport, &Channels, crate::clock::Clock),
    stop: &mut watch::Receiver<bool>,
    health: &crate::health::Health,
) -> Result<()> {
    let mut backoff = Duration::from_secs(1);
    let mut connected = false;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        match session(store, cfg, url, out, stop, (&mut connected, health)).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                if connected {
                    tracing::warn!(mailbox = %url.display(), error = %e, "mailbox disconnected");
                    connected = false;
                    health.set_mailbox_connected(false);
                    backoff = Duration::from_secs(1);
                } else {
                    tracing::warn!(mailbox = %url.display(), error = %e, retry_in_s = backoff.as_secs(), "mailbox unreachable");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

async fn session(
    store: &Store,
    cfg: &Config,
    url: &ImapUrl,
    out: (&Transport, &Channels, crate::clock::Clock),
    stop: &mut watch::Receiver<bool>,
    (connected, health): (&mut bool, &crate::health::Health),
) -> Result<()> {
    let mut s = answered(cfg, url, "greeting and login", connect(url)).await?;
    let idle = answered(cfg, url, "CAPABILITY", async {
        s.capabilities().await.map_err(imap_err(url, "CAPABILITY"))
    })
    .await?
    .has_str("IDLE");
    if let Some(folder) = &cfg.mail.processed_folder {
        // Ignore "already exists": the folder is ours to use either way.
        answered(cfg, url, "CREATE", async {
            let _ = s.create(folder).await;
            Ok(())
        })
        .await?;
    }
    *connected = true;
    health.set_mailbox_connected(true);
    tracing::info!(mailbox = %url.display(), idle, "mailbox connected");
    // When the server last said there was news (or the session began): each batch's log line
    // says how long after it the batch was answered.
    let mut woke = std::time::Instant::now();
    loop {
        let mb = answered(cfg, url, "SELECT", async {
            s.select(&url.mailbox)
                .await
                .map_err(imap_err(url, "SELECT"))
        })
        .await?;
        let validity = mb.uid_validity.unwrap_or(0);
        fetch_new(store, cfg, url, &mut s, (validity, woke), out, stop).await?;
        if *stop.borrow() {
            log_out(cfg, s).await;
            return Ok(());
        }
        // Mail the server announced while we fetched went to async-imap's unsolicited channel;
        // IDLE would not announce it again: look once more before waiting.
        let mut announced = false;
        while let Ok(r) = s.unsolicited_responses.try_recv() {
            announced |= matches!(
                r,
                async_imap::types::UnsolicitedResponse::Exists(_)
                    | async_imap::types::UnsolicitedResponse::Recent(_)
            );
        }
        if announced {
            continue;
        }
        if idle {
            let mut handle = s.idle();
            answered(cfg, url, "IDLE", async {
                handle.init().await.map_err(imap_err(url, "IDLE"))
            })
            .await?;
            let stopped = {
                let (wait, _interrupt) = handle.wait_with_timeout(IDLE_RENEW);
                tokio::select! {
                    r = wait => {
                        match r.map_err(imap_err(url, "IDLE"))? {
                            IdleResponse::NewData(_) | IdleResponse::Timeout | IdleResponse::ManualInterrupt => false,
                        }
                    }
                    _ = stop.changed() => true,
                }
            };
            woke = std::time::Instant::now();
            s = answered(cfg, url, "DONE", async {
                handle.done().await.map_err(imap_err(url, "DONE"))
            })
            .await?;
            if stopped {
                log_out(cfg, s).await;
                return Ok(());
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(cfg.mail.poll_seconds)) => {}
                _ = stop.changed() => { log_out(cfg, s).await; return Ok(()); }
            }
            // NOOP lets the server report new mail to a non-IDLE client.
            woke = std::time::Instant::now();
            answered(cfg, url, "NOOP", async {
                s.noop().await.map_err(imap_err(url, "NOOP"))
            })
            .await?;
        }
    }
}

/// Fetches and processes every message above the stored last UID, a batch at a time: each
/// batch is stored with the mailbox position in one transaction, then marked done on the
/// server and answered before the next is fetched. Returns how many. `woke`: when the server
/// announced the news (the log's `since_news_ms`).
async fn fetch_new(
    store: &Store,
    cfg: &Config,
    url: &ImapUrl,
    s: &mut ImapSession,
    (validity, woke): (u32, std::time::Instant),
    (transport, channels, clock): (&Transport, &Channels, crate::clock::Clock),
    stop: &watch::Receiver<bool>,
) -> Result<usize> {
    let ms = |since: std::time::Instant| since.elapsed().as_millis() as u64;
    let key = url.display();
    let last = last_uid(store, &key, validity).await?;
    let found = answered(cfg, url, "UID SEARCH", async {
        s.uid_search(format!("UID {}:*", last + 1))
            .await
            .map_err(imap_err(url, "UID SEARCH"))
    })
    .await?;
    // `n:*` always matches the highest UID, even when it is below n.
    let uids: BTreeSet<u32> = found.into_iter().filter(|u| *u > last).collect();
    let uids: Vec<u32> = uids.into_iter().collect();
    let mut done = 0;
    for chunk in uids.chunks(BATCH) {
        let began = std::time::Instant::now();
        let fetched = answered(cfg, url, "UID FETCH", fetch_batch(s, url, chunk)).await?;
        let fetch_ms = ms(began);
        let now = clock.now();
        let mut ing = Ingestor::new(store, cfg, channels).await?;
        let max_uid = fetched
            .iter()
            .map(|f| f.uid)
            .max()
            .unwrap_or(last)
            .max(last);
        // INTERNALDATE, not Date: a wrong laptop clock must not make a late start on time.
        let raws: Vec<Raw> = fetched
            .iter()
            .map(|f| Raw::read(f.bytes.clone(), "imap", f.internal, None, None))
            .collect();
        let storing = std::time::Instant::now();
        let mut tx = ing.store_batch(&raws, now).await?;
        save_mailbox_state(&mut tx, &key, validity, max_uid, now).await?;
        tx.commit().await?;
        let store_ms = ms(storing);
        done += fetched.len();
        // Cosmetic after the commit: a crash here leaves the mail unflagged, never unprocessed
        // or processed twice.
        answered(cfg, url, "marking done", mark_done(s, url, cfg, &fetched)).await?;
        // Answer this batch before fetching the next: a backlog must not delay the first acks.
        let delivering = std::time::Instant::now();
        let d = crate::outbox::deliver_with(store, transport, channels, cfg, clock.now()).await?;
        // Where a slow answer's time went: the server's FETCH, the database, the delivery
        // (which waits for the city's turn and the SMTP server), all since the news.
        tracing::info!(
            messages = fetched.len(),
            last_uid = max_uid,
            sent = d.sent,
            fetch_ms,
            store_ms,
            deliver_ms = ms(delivering),
            since_news_ms = ms(woke),
            "mailbox batch done"
        );
        if *stop.borrow() {
            break; // the batch in hand is committed; stop here
        }
    }
    Ok(done)
}

/// The last UID processed in this mailbox, 0 when none was or the server renumbered it.
async fn last_uid(store: &Store, key: &str, validity: u32) -> Result<u32> {
    Ok(match store.mailbox_state(key).await? {
        Some((v, last)) if v == validity => last,
        Some((v, _)) => {
            // The server renumbered the mailbox: read it again from the start. Messages already
            // processed are recognised by their Message-ID and skipped.
            tracing::warn!(mailbox = %key, old = v, new = validity, "UIDVALIDITY changed; re-reading the mailbox");
            0
        }
        None => 0,
    })
}

/// One message as the server gave it.
struct Fetched {
    uid: u32,
    /// INTERNALDATE: when the server received it.
    internal: Option<DateTime<Utc>>,
    bytes: Vec<u8>,
}

/// The messages of `uids` (without setting \Seen), in UID order.
async fn fetch_batch(s: &mut ImapSession, url: &ImapUrl, uids: &[u32]) -> Result<Vec<Fetched>> {
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let stream = s
        .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
        .await
        .map_err(imap_err(url, "UID FETCH"))?;
    let items: Vec<_> = stream
        .try_collect()
        .await
        .map_err(imap_err(url, "UID FETCH"))?;
    let mut v: Vec<Fetched> = items
        .iter()
        .filter_map(|f| {
            Some(Fetched {
                uid: f.uid?,
                internal: f.internal_date().map(|d| d.with_timezone(&Utc)),
                bytes: f.body().unwrap_or_default().to_vec(),
            })
        })
        .collect();
    v.sort_by_key(|f| f.uid);
    Ok(v)
}

/// Marks the batch done on the server: moved to the processed folder, or flagged \Seen.
async fn mark_done(
    s: &mut ImapSession,
    url: &ImapUrl,
    cfg: &Config,
    fetched: &[Fetched],
) -> Result<()> {
    let uid_set = fetched
        .iter()
        .map(|f| f.uid.to_string())
        .collect::<Vec<_>>()
        .join(",");
    if uid_set.is_empty() {
        return Ok(());
    }
    match &cfg.mail.processed_folder {
        Some(folder) => s
            .uid_mv(&uid_set, folder)
            .await
            .map_err(imap_err(url, "UID MOVE"))?,
        None => {
            let flagged = s
                .uid_store(&uid_set, "+FLAGS.SILENT (\\Seen)")
                .await
                .map_err(imap_err(url, "UID STORE"))?;
            let _: Vec<_> = flagged
                .try_collect()
                .await
                .map_err(imap_err(url, "UID STORE"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_urls_parse_with_defaults_and_never_show_the_password() {
        let u = ImapUrl::parse("imap://bot%40city.example.lg.jp:s3cr%2Ft@127.0.0.1:1143/INBOX")
            .unwrap();
        assert_eq!(
            (u.user.as_str(), u.password.as_str(), u.port),
            ("bot@city.example.lg.jp", "s3cr/t", 1143)
        );
        assert!(!format!("{u:?}").contains("s3cr"));
        let u = ImapUrl::parse("imaps://bot:pw@mail.city.example.lg.jp").unwrap();
        assert_eq!((u.port, u.mailbox.as_str(), u.tls), (993, "INBOX", true));
        assert!(ImapUrl::parse("imap://host/INBOX").is_err());
        assert!(ImapUrl::parse("pop3://a:b@host").is_err());
    }

    #[test]
    fn imap_urls_with_an_ipv6_host_keep_it_in_brackets_in_their_name() {
        let u = ImapUrl::parse("imap://bot%40city:pw@[2001:db8::25]/INBOX").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::25", 143));
        assert_eq!(u.display(), "imap://bot@city@[2001:db8::25]:143/INBOX");
    }

    #[test]
    fn a_bad_imap_url_is_one_message_without_the_password() {
        for (url, says) in [
            ("imap://bot:s3cret@:143/INBOX", "expected a host"),
            ("imap://bot:s3cret@/INBOX", "expected a host"),
            ("imap://bot:s3cret@h:1x3/INBOX", "expected a port number"),
            ("imap://bot@h/INBOX", "expected user:pass"),
            ("imap://h/INBOX", "expected user:pass@ before the host"),
            (
                "pop3://bot:s3cret@h",
                "expected imap://user:pass@host:port/MAILBOX",
            ),
        ] {
            let e = ImapUrl::parse(url).unwrap_err();
            let text = e.to_string();
            assert!(e.is_bad_input(), "{url}: {text}");
            assert!(
                text.contains("mail.source") && text.contains(says),
                "{url}: {text}"
            );
            assert!(
                !text.contains("s3cret") && !text.contains('\n'),
                "{url}: {text}"
            );
        }
    }

    #[test]
    fn imap_url_parts_are_percent_decoded_and_a_stray_percent_is_kept() {
        let u = ImapUrl::parse("imap://a:100%25%zz@h/%E5%8F%97%E4%BF%A1").unwrap();
        assert_eq!(u.password, "100%%zz");
        assert_eq!(u.mailbox, "受信");
        assert_eq!(
            percent_decode("%ff%41"),
            "\u{fffd}A",
            "invalid UTF-8 is replaced"
        );
    }
}

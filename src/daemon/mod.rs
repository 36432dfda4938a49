//! `zaitaku run`: the long-running service. One task reads the mail source (Maildir polling or
//! IMAP with IDLE), one runs the tick work (escalations, digests, delivery retries) at the
//! configured cron times, one delivers the outbox whenever a row is due (a retry's backoff
//! ending, the server coming back), not only at the next tick. On start the daemon takes back
//! the mail a killed process of this host had claimed (`outbox::release_dead_leases`). Shutdown is a future the caller passes in (SIGTERM/Ctrl-C in `main`,
//! anything in a test): each task finishes the batch in hand, commits, and returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::lease::Fleet;
use crate::mail::transport::Transport;
use crate::outbox::channel::Channels;
use crate::store::Store;

use crate::health::{Health, SharedHealth};

pub mod tenants;
pub use tenants::run_all_tenants;

pub async fn run(
    cfg: Config,
    store: Store,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let city = City::new(&cfg, clock)?;
    // Bound before anything starts: a port already taken is a clear error at once.
    let web = match &cfg.web {
        Some(w) => Some(crate::web::bind(w.listen).await?),
        None => None,
    };
    prepare(&store, &cfg, clock).await?;
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let fleet = join_fleet(&cfg, &store, clock, &mut tasks, &stop).await?;
    spawn_tasks(&mut tasks, (&cfg, &store), &city, (web, &fleet), &stop);
    tracing::info!(source = %crate::store::redact(&cfg.mail.source), transport = %crate::store::redact(&cfg.mail.transport),
        tick = %cfg.daemon.tick.0, "zaitaku running");
    let mut early: Option<Result<()>> = None;
    tokio::select! {
        _ = shutdown => tracing::info!("shutting down: finishing the message in hand"),
        Some(done) = tasks.join_next() => {
            // A loop ended on its own: that is an error (they only return when told to stop).
            early = Some(ended(done));
        }
    }
    wind_down(stop_tx, tasks, early).await
}

/// What a task that ended returned; a panic is a task failure.
fn ended(done: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    done.map_err(|e| Error::Mail(format!("a task failed: {e}")))
        .and_then(|r| r)
}

/// Tells every task to stop, waits for each to finish the batch in hand and commit, and
/// returns the error of the task that ended `early` (on its own), if one did.
async fn wind_down(
    stop_tx: watch::Sender<bool>,
    mut tasks: JoinSet<Result<()>>,
    early: Option<Result<()>>,
) -> Result<()> {
    let _ = stop_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        ended(done)?;
    }
    early.unwrap_or(Ok(()))
}

/// Before a city's tasks start (see the comments).
async fn prepare(store: &Store, cfg: &Config, clock: Clock) -> Result<()> {
    // Before anything is claimed: mail that a daemon killed on this host had claimed goes out
    // now, not when its lease runs out.
    let released = crate::outbox::release_dead_leases(store, clock.now()).await?;
    if released > 0 {
        tracing::info!(
            released,
            "took back mail a killed process had claimed; it goes out now"
        );
    }
    // The configuration this run works by, in the audit trail when it changed (SPEC §11).
    if crate::audit::record_config(store, cfg, clock.now()).await? {
        tracing::info!("configuration changed since the last start: recorded in the audit trail");
    }
    Ok(())
}

/// This daemon among the others on the database (`mail::lease`): it beats once before any
/// mailbox is claimed, so that a daemon joining others takes only its part, then every tick.
async fn join_fleet(
    cfg: &Config,
    store: &Store,
    clock: Clock,
    tasks: &mut JoinSet<Result<()>>,
    stop: &watch::Receiver<bool>,
) -> Result<Arc<Fleet>> {
    let fleet = Fleet::new(cfg.mail.mailbox_lease_seconds);
    fleet.beat(store, clock).await?;
    tasks.spawn(fleet.clone().run_beats(store.clone(), clock, stop.clone()));
    Ok(fleet)
}

/// Starts the daemon's tasks: the web (when configured), the mailbox, Matrix (when
/// configured), delivery, the directory sync (when scheduled) and the scheduler. Each stops
/// when `stop` turns true.
fn spawn_tasks(
    tasks: &mut JoinSet<Result<()>>,
    (cfg, store): (&Config, &Store),
    city: &City,
    (web, fleet): (Option<tokio::net::TcpListener>, &Arc<Fleet>),
    stop: &watch::Receiver<bool>,
) {
    let City {
        transport,
        channels,
        clock,
        health,
    } = city.clone();
    if let Some(listener) = web {
        let mut stop = stop.clone();
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        tasks.spawn(crate::web::serve(
            cfg.clone(),
            store.clone(),
            channels.clone(),
            listener,
            stopped,
            (clock, health.clone()),
        ));
    }
    if cfg.mail.is_maildir() {
        tasks.spawn(maildir_loop(
            store.clone(),
            cfg.clone(),
            city.clone(),
            stop.clone(),
        ));
    } else {
        tasks.spawn(crate::mail::imap::run(
            store.clone(),
            cfg.clone(),
            transport.clone(),
            channels.clone(),
            clock,
            health.clone(),
            fleet.clone(),
            stop.clone(),
        ));
    }
    if cfg.chat.matrix.is_some() {
        tasks.spawn(crate::chat::matrix::run(
            store.clone(),
            cfg.clone(),
            transport.clone(),
            channels.clone(),
            clock,
            health,
            stop.clone(),
        ));
    }
    tasks.spawn(delivery_loop(
        store.clone(),
        cfg.clone(),
        city.clone(),
        stop.clone(),
    ));
    if let Some((expr, schedule)) = cfg.ldap.as_ref().and_then(|l| l.sync.clone()) {
        tasks.spawn(directory_sync_loop(
            store.clone(),
            cfg.clone(),
            (expr, schedule),
            clock,
            stop.clone(),
        ));
    }
    tasks.spawn(scheduler(
        store.clone(),
        cfg.clone(),
        city.clone(),
        stop.clone(),
    ));
}

/// What the tasks of one city share: how its answers go out, the process's clock, and the
/// city's health for `/metrics`.
#[derive(Clone)]
struct City {
    transport: Arc<Transport>,
    channels: Channels,
    clock: Clock,
    health: SharedHealth,
}

impl City {
    fn new(cfg: &Config, clock: Clock) -> Result<City> {
        Ok(City {
            transport: Arc::new(Transport::for_mail(&cfg.mail)?),
            // The chat channels, registered once for every task of the city.
            channels: crate::chat::channels(cfg),
            clock,
            health: Health::watched(),
        })
    }
}

/// Sleeps, or returns true early when told to stop.
async fn stopped_during(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn maildir_loop(
    store: Store,
    cfg: Config,
    city: City,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let City {
        transport,
        channels,
        clock,
        health,
    } = city;
    let dir = std::path::PathBuf::from(cfg.mail.source.trim_start_matches("maildir:"));
    crate::mail::maildir::ensure(&dir)?;
    let poll = Duration::from_secs(cfg.mail.poll_seconds);
    let mut failing = false;
    loop {
        match crate::ingest::ingest_maildir(&store, &cfg, &channels, &dir, clock.now(), false).await
        {
            Ok(s) => {
                health.set_mailbox_connected(true);
                if failing {
                    tracing::info!(maildir = %dir.display(), "maildir readable again");
                    failing = false;
                }
                if s.processed + s.duplicates > 0 {
                    tracing::info!(
                        processed = s.processed,
                        duplicates = s.duplicates,
                        "maildir batch done"
                    );
                    crate::outbox::deliver_now(&store, &transport, &channels, &cfg, clock.now())
                        .await;
                }
            }
            // A broken message is kept and recorded by ingest; what lands here is the folder or
            // the database being unavailable: log it once and try again at the next poll.
            Err(e) if !failing => {
                health.set_mailbox_connected(false);
                tracing::error!(maildir = %dir.display(), error = %e, "cannot read the maildir");
                failing = true;
            }
            Err(_) => {}
        }
        if stopped_during(&mut stop, poll).await {
            return Ok(());
        }
    }
}

/// The longest the delivery loop sleeps: mail queued by another process (`zaitaku ingest` from
/// a `.forward` pipe, a second daemon) waits at most this long. This process's own answers go
/// out at once (`outbox::deliver_now` after each batch).
const DELIVERY_IDLE: Duration = Duration::from_secs(5);

/// How long a city's answer may wait for the daemon reading its mailbox before a daemon
/// standing by for that city sends it itself.
const STANDBY_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Delivers the outbox whenever something in it is due: it sleeps until the earliest row is
/// (a retry's backoff, a probe of a server that was away, the lease of a process that died
/// ending), at most `DELIVERY_IDLE`.
async fn delivery_loop(
    store: Store,
    cfg: Config,
    City {
        transport,
        channels,
        clock,
        health,
    }: City,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    loop {
        // While another daemon reads the city's mailbox, it answers each batch as it stores
        // it; this one sends only what has waited `STANDBY_GRACE` (that daemon stuck or
        // gone). Two daemons sending the same city's fresh answers fought over its rows, and
        // a backlog went out at half the rate of one daemon (docs/benchmarks.md).
        let grace = if standing_by(&cfg, &health) {
            STANDBY_GRACE
        } else {
            chrono::TimeDelta::zero()
        };
        // What is due is read first, and delivery tried only when something is: a city with
        // nothing to send costs one statement a round, not two (455 idle cities made 182
        // statements a second, docs/benchmarks.md).
        let wait = match crate::outbox::next_due(&store).await {
            Ok(Some(at)) if at + grace <= clock.now() => {
                match crate::outbox::deliver_with(&store, &transport, &channels, &cfg, clock.now())
                    .await
                {
                    Ok(d) => {
                        if d.attempted > 0 {
                            tracing::info!(
                                sent = d.sent,
                                retrying = d.retrying,
                                failed = d.failed,
                                "outbox"
                            );
                        }
                        // Look again at once: what is due next, now that these went.
                        Duration::ZERO
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "outbox delivery failed; will try again");
                        DELIVERY_IDLE
                    }
                }
            }
            Ok(Some(at)) => clock.until(at + grace),
            Ok(None) => DELIVERY_IDLE,
            Err(e) => {
                tracing::error!(error = %e, "outbox: cannot read what is due");
                DELIVERY_IDLE
            }
        };
        // Never spin: a row a rival daemon claimed first is due but not ours.
        let wait = wait.clamp(Duration::from_millis(200), DELIVERY_IDLE);
        if stopped_during(&mut stop, wait).await {
            return Ok(());
        }
    }
}

async fn scheduler(
    store: Store,
    cfg: Config,
    City {
        transport,
        channels,
        clock,
        health,
    }: City,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let tick = async || {
        let deliver = !standing_by(&cfg, &health);
        run_tick(&store, &cfg, (&transport, &channels), clock.now(), deliver).await;
    };
    // Catch up at once: overdue steps, a missed digest, mail left in the outbox.
    tick().await;
    while next_time(&cfg.daemon.tick, &cfg, clock, &mut stop).await {
        tick().await;
    }
    Ok(())
}

/// Whether another daemon reads this city's IMAP mailbox now: its answers are that daemon's
/// to send (see `delivery_loop`).
fn standing_by(cfg: &Config, health: &Health) -> bool {
    !cfg.mail.is_maildir() && !health.mailbox_held()
}

/// `[ldap] sync`: `employees sync --ldap` at the configured times. A failed sync (the
/// directory away) is logged and tried again at the next time; it never stops the daemon, and
/// being one transaction it changes nothing when it fails.
async fn directory_sync_loop(
    store: Store,
    cfg: Config,
    schedule: (String, cron::Schedule),
    clock: Clock,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let actor = crate::store::audit::Actor {
        who: "directory".into(),
        via: "daemon",
        client: None,
    };
    while next_time(&schedule, &cfg, clock, &mut stop).await {
        match crate::directory::sync(&store, &cfg, false, clock.now(), &actor).await {
            Ok(plan) => tracing::info!(
                new = plan.new.len(),
                changed = plan.changed.len(),
                gone = plan.gone.len(),
                skipped = plan.skipped.len(),
                "staff synced from the directory"
            ),
            Err(e) => {
                tracing::error!(error = %e, "directory sync failed; will try again at the next time")
            }
        }
    }
    Ok(())
}

/// Sleeps until the schedule's next time in the city's time zone: true then, false when told
/// to stop first, or at once (saying so) when the schedule has no future time.
async fn next_time(
    (expr, schedule): &(String, cron::Schedule),
    cfg: &Config,
    clock: Clock,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let now = clock.now().with_timezone(&cfg.timezone);
    let Some(next) = schedule.after(&now).next() else {
        tracing::warn!(schedule = %expr, "the schedule has no future time; nothing more runs on it");
        let _ = stop.changed().await;
        return false;
    };
    let wait = clock.until(next.with_timezone(&Utc));
    !stopped_during(stop, wait).await
}

async fn run_tick(
    store: &Store,
    cfg: &Config,
    (transport, channels): (&Transport, &Channels),
    now: chrono::DateTime<Utc>,
    deliver: bool,
) {
    // A failing tick (database or mail server down) is logged and tried again at the next time;
    // it never stops the daemon.
    match crate::tick::tick_with(store, cfg, (transport, channels), now, deliver).await {
        Ok(r) => {
            if r.steps_sent + r.steps_expired + r.digests + r.delivery.attempted > 0 {
                tracing::info!(report = %r, "tick");
            }
        }
        Err(e) => tracing::error!(error = %e, "tick failed; will try again at the next tick"),
    }
}

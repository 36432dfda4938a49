//! `zaitaku run --all-tenants`: one process for every municipality of a PostgreSQL database
//! (SPEC §13). Each tenant gets the tasks a single-city daemon has — its own mailbox (an IDLE
//! connection and position of its own), delivery, Matrix, directory sync and a scheduler that
//! ticks in the tenant's own time zone and calendar — all configured from
//! `config/tenants/CODE/`, and all on one pool of connections, each handle set to its tenant
//! (`Store::for_tenant`): row-level security keeps the cities apart beneath every query.
//!
//! One web listener (the shared configuration's `[web] listen`) serves every tenant that names
//! a `[web] host`: a request goes to the register of the host it asks for.
//!
//! A tenant added while the daemon runs is served from the next look at the tenant list
//! (`RESCAN`), without a restart. Several such daemons on the same database share the work as
//! single-city daemons do (claims and leases in the database), city by city.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::lease::Fleet;
use crate::store::{Store, TenantCode};
use crate::web::Hosts;

/// How often the daemon looks for municipalities added since it started.
pub const RESCAN: Duration = Duration::from_secs(60);

/// Connections of the shared pool: enough for every tenant's tasks to take turns, far fewer
/// than a pool each would hold (455 × 8).
pub const CONNECTIONS: u32 = 16;

/// Serves every tenant of the database behind `root` (a pool from `Store::open_shared`) until
/// `shutdown`. `load` gives a tenant's configuration (the shared one with
/// `config/tenants/CODE/` over it). A tenant whose configuration is bad stops the start with
/// exit 2 naming it; one added later with a bad configuration is logged and left out, and the
/// others go on.
pub async fn run_all_tenants(
    shared: Config,
    root: Store,
    clock: Clock,
    load: impl Fn(&TenantCode) -> Result<Config>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let web = match &shared.web {
        Some(w) => Some(crate::web::bind(w.listen).await?),
        None => None,
    };
    let (stop_tx, stop) = watch::channel(false);
    let hosts: Hosts = Hosts::default();
    let mut tasks: JoinSet<Result<()>> = JoinSet::new();
    let fleet = super::join_fleet(&shared, &root, clock, &mut tasks, &stop).await?;
    let mut city = Cities {
        served: BTreeSet::new(),
        host_of: HashMap::new(),
        fleet,
    };
    // At the start every tenant's configuration must be good: the operator is watching.
    city.start_new(&root, (&load, clock), &hosts, &mut tasks, &stop, true)
        .await?;
    if let Some(listener) = web {
        let mut s = stop.clone();
        let stopped = async move {
            let _ = s.wait_for(|s| *s).await;
        };
        tasks.spawn(crate::web::serve_hosts(listener, hosts.clone(), stopped));
    }
    tracing::info!(
        tenants = city.served.len(),
        "zaitaku running for every municipality"
    );
    tokio::pin!(shutdown);
    let mut early: Option<Result<()>> = None;
    loop {
        tokio::select! {
            _ = &mut shutdown => {
                tracing::info!("shutting down: finishing the message in hand");
                break;
            }
            Some(done) = tasks.join_next() => {
                // A loop ended on its own: that is an error (they only return when told to stop).
                early = Some(super::ended(done));
                break;
            }
            _ = tokio::time::sleep(RESCAN) => {
                if let Err(e) = city.start_new(&root, (&load, clock), &hosts, &mut tasks, &stop, false).await {
                    tracing::error!(error = %e, "cannot read the tenant list; will look again");
                }
            }
        }
    }
    super::wind_down(stop_tx, tasks, early).await
}

/// The tenants this process serves, and which of them holds which host name.
struct Cities {
    served: BTreeSet<String>,
    host_of: HashMap<String, String>,
    /// This daemon among the others on the database: which cities' mailboxes it reads.
    fleet: Arc<Fleet>,
}

/// A tenant ready to start: its configuration read and checked, its handle on the pool.
struct Ready {
    code: String,
    name: String,
    cfg: Config,
    store: Store,
    city: super::City,
    host: Option<String>,
}

impl Cities {
    /// Starts the tasks of every tenant not served yet. Every new tenant's configuration is
    /// read first: at the start (`strict`) a bad one stops the daemon before anything is
    /// written; later it is logged, left out, and tried again at the next look.
    async fn start_new(
        &mut self,
        root: &Store,
        (load, clock): (&impl Fn(&TenantCode) -> Result<Config>, Clock),
        hosts: &Hosts,
        tasks: &mut JoinSet<Result<()>>,
        stop: &watch::Receiver<bool>,
        strict: bool,
    ) -> Result<()> {
        let mut ready: Vec<Ready> = Vec::new();
        for t in root.tenants().await? {
            if self.served.contains(&t.code) {
                continue;
            }
            match self
                .configure(root, (load, clock), t.code.clone(), t.name, &ready)
                .await
            {
                Ok(r) => ready.push(r),
                Err(e) if strict => return Err(e),
                Err(e) => {
                    tracing::error!(tenant = %t.code, error = %e, "cannot serve this municipality; will try again")
                }
            }
        }
        for r in ready {
            let (code, name) = (r.code.clone(), r.name.clone());
            match self.start(r, hosts, tasks, stop).await {
                Ok(()) => tracing::info!(tenant = %code, name = %name, "serving municipality"),
                Err(e) if strict => return Err(e),
                Err(e) => {
                    tracing::error!(tenant = %code, error = %e, "cannot serve this municipality; will try again")
                }
            }
        }
        Ok(())
    }

    /// Reads and checks one tenant's configuration; nothing is written.
    async fn configure(
        &self,
        root: &Store,
        (load, clock): (&impl Fn(&TenantCode) -> Result<Config>, Clock),
        code: String,
        name: String,
        others: &[Ready],
    ) -> Result<Ready> {
        let named = |e: Error| match e {
            e if e.is_bad_input() => Error::bad(format!("tenant {code}"), e.to_string()),
            e => e,
        };
        let tenant = TenantCode::parse(&code).map_err(|m| Error::bad("tenants.code", m))?;
        let cfg = load(&tenant).map_err(named)?;
        let host = cfg.web.as_ref().and_then(|w| w.host.clone());
        if let Some(h) = &host {
            let taken = self.host_of.get(h).cloned().or_else(|| {
                others
                    .iter()
                    .find(|o| o.host.as_ref() == Some(h))
                    .map(|o| o.code.clone())
            });
            if let Some(other) = taken {
                return Err(Error::bad(
                    format!("tenant {code}"),
                    format!(
                        "[web] host {h:?} is tenant {other}'s already: each municipality needs a host name of its own"
                    ),
                ));
            }
        }
        let city = super::City::new(&cfg, clock).map_err(named)?;
        let store = root.for_tenant(&tenant).await?;
        Ok(Ready {
            code,
            name,
            cfg,
            store,
            city,
            host,
        })
    }

    /// Starts one tenant's tasks, and puts its register on the listener.
    async fn start(
        &mut self,
        r: Ready,
        hosts: &Hosts,
        tasks: &mut JoinSet<Result<()>>,
        stop: &watch::Receiver<bool>,
    ) -> Result<()> {
        super::prepare(&r.store, &r.cfg, r.city.clock).await?;
        super::spawn_tasks(
            tasks,
            (&r.cfg, &r.store),
            &r.city,
            (None, &self.fleet),
            stop,
        );
        match &r.host {
            Some(h) => {
                let (router, sweep) = crate::web::hosted(
                    r.cfg.clone(),
                    r.store,
                    r.city.channels.clone(),
                    (r.city.clock, r.city.health.clone()),
                );
                let mut s = stop.clone();
                tasks.spawn(async move {
                    tokio::select! {
                        _ = sweep => {}
                        _ = s.wait_for(|s| *s) => {}
                    }
                    Ok(())
                });
                hosts.insert(h, router);
                self.host_of.insert(h.clone(), r.code.clone());
            }
            None => tracing::info!(
                tenant = %r.code,
                "no [web] host in its configuration: its register is not served by this daemon"
            ),
        }
        self.served.insert(r.code);
        Ok(())
    }
}

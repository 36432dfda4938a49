//! Which daemon reads which IMAP mailbox when several run on one database (migration 0024).
//!
//! Without this every daemon watched every mailbox: each mail was fetched and stored by all of
//! them, all but one lost on the reports' unique key, and a second daemon added work, not
//! throughput. Now a mailbox is read by the daemon holding its lease. The holder renews it every
//! third of `[mail] mailbox_lease_seconds` and gives it back when it stops; a lease nobody
//! renewed for that long (a daemon killed, a host gone) is taken by another daemon, and one
//! whose holder is known to have ended on this host (`outbox::is_dead`) at once.
//!
//! Each daemon also beats in `daemons`: how many mailboxes it would read and how many it holds.
//! From the daemons alive it takes its fair part (the mailboxes over the daemons, rounded up)
//! and no more, and hands mailboxes over while it holds more than its part and another holds
//! less. A mailbox nobody took for a whole lease term (its city served by no daemon that is
//! short) is taken by any daemon, whatever its part: a mailbox is never left unread.
//!
//! The unique keys of the store stay what keeps a mail from being recorded twice; the lease is
//! about work, not about correctness. Lease times are the process clock's (`Clock`, which runs
//! at the system's pace), the same clock the outbox's delivery leases use.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::error::Result;
use crate::store::mailbox::Daemon;
use crate::store::{Store, epoch};

/// The daemons' view of each other at the last beat.
#[derive(Debug, Clone, Copy)]
struct Share {
    /// Daemons alive, this one included (at least 1).
    live: usize,
    /// Another daemon alive holds fewer mailboxes than its fair part.
    short: bool,
}

/// This process's part in the sharing: one per `zaitaku run`, shared by its mailbox tasks.
#[derive(Debug)]
pub struct Fleet {
    me: String,
    lease: Duration,
    /// Mailboxes this daemon has a task for, and how many of them it holds now.
    serves: AtomicUsize,
    holds: AtomicUsize,
    share: std::sync::Mutex<Share>,
}

/// Why a daemon stopped holding a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetGo {
    /// The daemon is stopping: given back for another to take at once.
    Stopped,
    /// Another daemon holds it now (this one could not renew in time).
    Lost,
    /// Given to a daemon short of its part.
    HandedOver,
    /// The reading ended by itself (an error it cannot retry): given back.
    Ended,
}

impl Fleet {
    /// `lease_seconds`: `[mail] mailbox_lease_seconds` (3 or more, as the configuration checks).
    pub fn new(lease_seconds: u64) -> Arc<Fleet> {
        // Several fleets in one process (tests that start daemons in-process) are told apart.
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        Arc::new(Fleet {
            me: format!("{}#{n}", crate::outbox::instance_id()),
            lease: Duration::from_secs(lease_seconds),
            serves: AtomicUsize::new(0),
            holds: AtomicUsize::new(0),
            share: std::sync::Mutex::new(Share {
                live: 1,
                short: false,
            }),
        })
    }

    /// How often leases are renewed, the daemons beat and a waiting daemon looks again.
    pub fn tick(&self) -> Duration {
        self.lease / 3
    }

    fn until(&self, clock: Clock) -> i64 {
        epoch(clock.now()) + self.lease.as_secs() as i64
    }

    fn share(&self) -> Share {
        *self.share.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most mailboxes this daemon should hold: its mailboxes over the daemons alive,
    /// rounded up.
    fn fair(&self) -> usize {
        self.serves
            .load(Ordering::SeqCst)
            .div_ceil(self.share().live.max(1))
    }

    /// Writes this daemon's row and reads the others'. Errors are the caller's to log: the
    /// leases go on by the last view.
    pub async fn beat(&self, store: &Store, clock: Clock) -> Result<()> {
        let me = Daemon {
            id: self.me.clone(),
            serves: self.serves.load(Ordering::SeqCst) as i64,
            holds: self.holds.load(Ordering::SeqCst) as i64,
        };
        let all = store
            .daemon_beat(&me, self.until(clock), epoch(clock.now()))
            .await?;
        let live = all.len().max(1);
        let short = all
            .iter()
            .any(|d| d.id != self.me && (d.holds as usize) < (d.serves as usize).div_ceil(live));
        *self.share.lock().unwrap_or_else(|e| e.into_inner()) = Share { live, short };
        Ok(())
    }

    /// Beats every tick until `stop`, then takes this daemon's row out. `store`: any handle on
    /// the database (`daemons` carries no tenant).
    pub async fn run_beats(
        self: Arc<Fleet>,
        store: Store,
        clock: Clock,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.tick()) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            if let Err(e) = self.beat(&store, clock).await {
                tracing::warn!(error = %e, "cannot tell the other daemons this one runs; will try again");
            }
        }
        if let Err(e) = store.daemon_gone(&self.me).await {
            tracing::warn!(error = %e, "cannot take this daemon off the list; its row runs out");
        }
        Ok(())
    }

    /// A mailbox task starts (`+1`) or ends (`-1`).
    pub fn serve(&self, more: bool) {
        if more {
            self.serves.fetch_add(1, Ordering::SeqCst);
        } else {
            self.serves.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Waits until this daemon holds `mailbox`'s lease: true then, false when `stop` came
    /// first. A database error is logged and the next look comes a tick later.
    pub async fn acquire(
        &self,
        store: &Store,
        mailbox: &str,
        clock: Clock,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut told = false;
        loop {
            if *stop.borrow() {
                return false;
            }
            match self.try_claim(store, mailbox, clock).await {
                Ok(None) => return true,
                Ok(Some(owner)) if !told && !owner.is_empty() => {
                    tracing::info!(mailbox = %mailbox, owner = %owner, "mailbox read by another daemon; this one stands by");
                    told = true;
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    tracing::warn!(mailbox = %mailbox, error = %e, "cannot claim the mailbox; will try again")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.tick()) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// One try for the lease: `None` when held now, else its holder.
    async fn try_claim(
        &self,
        store: &Store,
        mailbox: &str,
        clock: Clock,
    ) -> Result<Option<String>> {
        let fair = self.fair();
        // A place in this daemon's part is taken before the claim, so that its mailbox tasks
        // together never hold more than the part.
        let placed = self
            .holds
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
                (h < fair).then_some(h + 1)
            })
            .is_ok();
        let now = epoch(clock.now());
        // Within its part a daemon takes any lease that ran out; beyond it, only one left
        // unread for a whole term.
        let free_before = if placed {
            now
        } else {
            now - self.lease.as_secs() as i64
        };
        let until = self.until(clock);
        let held = async {
            match store
                .claim_mailbox(mailbox, &self.me, until, free_before)
                .await?
            {
                Some(owner) if self.ended(&owner) => {
                    // Its daemon was killed on this host: no need to wait for the lease to run
                    // out.
                    if store
                        .take_mailbox_from(mailbox, &owner, &self.me, until)
                        .await?
                    {
                        tracing::info!(mailbox = %mailbox, owner = %owner, "took over the mailbox of a daemon that ended");
                        Ok(None)
                    } else {
                        Ok(Some(owner))
                    }
                }
                other => Ok(other),
            }
        }
        .await;
        // The place taken above is given back unless the claim held, whichever step failed.
        match (&held, placed) {
            (Ok(None), false) => {
                self.holds.fetch_add(1, Ordering::SeqCst);
            }
            (Ok(Some(_)) | Err(_), true) => {
                self.holds.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        }
        held
    }

    /// Whether `owner` names a daemon of this host that runs no more.
    fn ended(&self, owner: &str) -> bool {
        owner != self.me && crate::outbox::is_dead(owner.split('#').next().unwrap_or(owner))
    }

    /// While this daemon holds `mailbox`: renews the lease every tick, and returns why it
    /// stopped holding it — `stop`, `ended` (the reading returned), the lease lost, or handed
    /// to a daemon short of its part.
    pub async fn keep(
        &self,
        store: &Store,
        mailbox: &str,
        clock: Clock,
        stop: &mut watch::Receiver<bool>,
        ended: &mut watch::Receiver<bool>,
    ) -> LetGo {
        loop {
            if *stop.borrow() {
                return LetGo::Stopped;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.tick()) => {}
                _ = stop.changed() => return LetGo::Stopped,
                _ = ended.changed() => return LetGo::Ended,
            }
            let fair = self.fair();
            if self.share().short
                && self
                    .holds
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
                        (h > fair).then_some(h - 1)
                    })
                    .is_ok()
            {
                return LetGo::HandedOver;
            }
            match store
                .renew_mailbox(mailbox, &self.me, self.until(clock))
                .await
            {
                Ok(true) => {}
                Ok(false) => return LetGo::Lost,
                // The database is away: the reading cannot store anything either. Keep the
                // lease as long as it lasts; a later renewal says whether it was lost.
                Err(e) => {
                    tracing::warn!(mailbox = %mailbox, error = %e, "cannot renew the mailbox's lease; will try again")
                }
            }
        }
    }

    /// After [`Fleet::keep`]: gives the lease back (for another daemon to take at once) unless
    /// it was lost, and counts it out of this daemon's holding.
    pub async fn let_go(&self, store: &Store, mailbox: &str, clock: Clock, why: LetGo) {
        if why != LetGo::HandedOver {
            // A hand-over counted itself out when it decided.
            self.holds.fetch_sub(1, Ordering::SeqCst);
        }
        if why == LetGo::Lost {
            return;
        }
        // Ran out a moment ago and nobody's: free for any daemon within its part, not an
        // orphan. This one's own claim would otherwise take it straight back.
        if let Err(e) = store
            .release_mailbox(mailbox, &self.me, epoch(clock.now()) - 1)
            .await
        {
            tracing::warn!(mailbox = %mailbox, error = %e, "cannot give the mailbox's lease back; it runs out by itself");
        }
    }
}

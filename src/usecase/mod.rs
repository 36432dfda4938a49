//! The use cases: what a front end (`cli`, `daemon`, `demo`, `web`) asks of the system, each
//! one the same whichever front end asks. They read and write through the adapters (`store`,
//! `outbox`) and decide through the rules; no front end lives below them.
//!
//! Most use cases are still top-level modules (`register`, `ingest`, `tick`, `survey`); this
//! folder is where they move as the layering of issue 16 goes on (see docs/architecture.md).

pub mod approval;
pub mod board;
pub mod my_page;

//! Keeping host crashes deterministic when several worlds share a process.
//!
//! When turmoil crashes a host it drops the host's tokio runtime, and tokio drops the
//! runtime's tasks shard by shard, the shard being the task's id modulo the shard count
//! (four for a current-thread runtime). Task ids come from one process-wide counter. The
//! sockets those tasks own send their FIN segments as they are dropped, so the order of
//! those segments, the latencies drawn for them and everything after depend on the ids the
//! run happened to get. Found by the determinism check: the same seed gave another history
//! when it ran second in a process.
//!
//! The fix has two parts. A world that crashes hosts runs alone (it takes the write side of
//! a process-wide lock; other worlds share the read side), so no other thread takes ids in
//! the middle of its run; and it starts from an id that is a multiple of [`ALIGN`], so the
//! shard of every task it spawns is the same in every process. Worlds without crashes never
//! drop a runtime with live tasks before their history is taken, and run in parallel.
//! Rejected: running each seed in its own process (a fork per seed costs more than a seed).

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Task ids are aligned to this: the shard count of a current-thread runtime's task list.
pub const ALIGN: u64 = 4;

/// How many ids aligning may burn at most (it needs fewer than [`ALIGN`]).
const BURN_MAX: u64 = 64;

static WORLDS: RwLock<()> = RwLock::new(());

/// A world's turn to run: shared for worlds without crashes, exclusive for the others.
#[allow(dead_code)]
pub enum Turn {
    /// Runs beside other worlds without crashes.
    Shared(RwLockReadGuard<'static, ()>),
    /// Runs alone, from an aligned task id.
    Alone(RwLockWriteGuard<'static, ()>),
}

/// Waits for a world's turn; `crashes` says whether it will crash hosts.
pub fn turn(crashes: bool) -> Turn {
    if !crashes {
        return Turn::Shared(WORLDS.read().unwrap_or_else(|p| p.into_inner()));
    }
    let guard = WORLDS.write().unwrap_or_else(|p| p.into_inner());
    align();
    Turn::Alone(guard)
}

/// Spawns (and drops) empty tasks until the next task id is a multiple of [`ALIGN`].
fn align() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    for _ in 0..BURN_MAX {
        let handle = runtime.spawn(async {});
        let id: u64 = handle.id().to_string().parse().unwrap_or(ALIGN - 1);
        if id % ALIGN == ALIGN - 1 {
            return;
        }
    }
}

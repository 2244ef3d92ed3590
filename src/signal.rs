//! Cancellation: Ctrl-C (SIGINT) and SIGTERM, which GitHub Actions and CodeBuild send to cancel a job
//! before they kill it. Long waits select on `cancelled()` so they can say where things stand and
//! clean up instead of dying mid-way.
//!
//! The handlers are installed once, at start (`install`), so a signal that arrives a moment before a
//! wait begins is not lost to the default action: the next wait sees it at once. A command that
//! does not handle cancellation (render, doctor...) ends at once with the conventional code, as it
//! would without handlers; so does any command on a second signal.

use std::sync::OnceLock;

use tokio::sync::watch;

use crate::error::Error;

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The error that ends the command: exit 130 for SIGINT, 143 for SIGTERM (128 + the signal).
    pub fn error(self) -> Error {
        match self {
            Signal::Interrupt => Error::Interrupted,
            Signal::Terminate => Error::Terminated,
        }
    }
}

static RECEIVED: OnceLock<watch::Receiver<Option<Signal>>> = OnceLock::new();

/// Installs the handlers; call once from inside the runtime, before any work. `handled`: the
/// command reacts to cancellation (it selects on `cancelled()` where it waits).
pub fn install(handled: bool) {
    let (tx, rx) = watch::channel(None);
    if RECEIVED.set(rx).is_err() {
        return;
    }
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let signal = raw().await;
            if !handled || !first {
                eprintln!("{}", signal.error());
                std::process::exit(i32::from(signal.error().exit_code()));
            }
            first = false;
            let _ = tx.send(Some(signal));
        }
    });
}

async fn raw() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    Signal::Interrupt
}

/// Resolves when SIGINT or SIGTERM arrives (or has arrived since `install`).
pub async fn cancelled() -> Signal {
    let Some(rx) = RECEIVED.get() else {
        return raw().await;
    };
    let mut rx = rx.clone();
    loop {
        if let Some(signal) = *rx.borrow_and_update() {
            return signal;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

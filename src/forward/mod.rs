//! THE DATA PATH, read top to bottom: fetch → classify → rewrite → produce.
//!
//! ```text
//!  source leader ──Fetch(session)──▶ fetch.rs ──records blob──▶ batch::batches (split, no copy)
//!                                                                   │
//!                                      classify.rs ◀────────────────┘
//!                        pass-through │ rebuild (legacy, trim, renumber, split, codec)
//!                                     ▼
//!  target leader ◀──Produce(vectored)── produce.rs: header rewrite with our producer
//!                                     │             id/epoch/sequence + CRC (batch::rewrite)
//!                                     ▼
//!                        progress.rs: positions saved on the target; offset syncs emitted
//! ```
//!
//! A batch that can pass through is never decompressed or copied: the fetch
//! response's bytes are sliced, a new 61-byte header is written beside them,
//! and both go to the socket as separate buffers.

pub mod classify;
pub mod produce;
pub mod progress;

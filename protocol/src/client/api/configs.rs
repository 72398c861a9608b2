//! configs (in progress).

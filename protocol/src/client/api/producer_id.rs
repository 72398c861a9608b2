//! producer_id (in progress).

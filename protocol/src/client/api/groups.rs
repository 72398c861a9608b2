//! groups (in progress).

//! topics (in progress).

//! offsets (in progress).

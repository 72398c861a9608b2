//! acls (in progress).

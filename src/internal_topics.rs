//! MM2 internal-topic record formats (work in progress).

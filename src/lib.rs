//! kmirror: a zero-copy, MirrorMaker 2 compatible Kafka replicator.

//! openraft's log storage on our write-ahead log (being written): how entries become records.

mod entry_codec;

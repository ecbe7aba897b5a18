//! stub
#![cfg(eventgate_loom)]

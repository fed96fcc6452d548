//! What requests leave behind for operators: counters and the audit of fetches. Written by
//! the request pipeline, read by the CLI, AMI and Prometheus.

pub mod audit;
pub mod cluster;
pub mod metrics;
pub mod offer;

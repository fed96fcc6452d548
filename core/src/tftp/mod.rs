//! TFTP (RFC 1350, options of RFC 2347, 2348, 2349 and 7440), read-only: packets, option
//! negotiation and request names, and a transfer as a state machine. The module's listener
//! (src/module/tftp) gives it sockets, clocks and the files of the snapshot.

pub mod options;
pub mod packet;
pub mod transfer;

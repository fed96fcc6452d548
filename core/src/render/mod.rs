//! Bodies made from templates: the fast substitution path, the dialplan functions over a
//! snapshot, Linphone's XML, QR codes, XML escaping and well-formedness.

pub mod funcs;
pub mod linphone;
pub mod qr;
pub mod template;
pub mod xml;
pub mod xmlcheck;

//! The top layer: the functions Asterisk and other modules call by their C names. The only
//! code that receives raw pointers from Asterisk; it makes the `ffi` layer's wrappers from
//! them (their constructors are `unsafe fn`) and calls `module`.

mod api;
mod entry;

//! The top layer: the functions Asterisk and other modules call by their C names. The only
//! code that receives raw pointers from Asterisk; it makes the `ffi` layer's wrappers from
//! them (their constructors are `unsafe fn`) and calls `module`.
//!
//! Every such function is declared with [`entry!`], which puts its body inside the panic
//! guard. An `extern "C"` function written by hand does not compile here: `#[no_mangle]` is
//! unsafe code, denied in this layer except in what the macro emits.

#![deny(unsafe_code)]

/// Declares an entry point: a `#[no_mangle] extern "C"` function with the given C signature
/// whose whole body runs inside [`guard`](crate::ffi::guard::guard). After a panic it logs
/// it through `ast_log` and returns the fallback: no panic crosses into Asterisk.
///
/// ```ignore
/// entry! {
///     /// What it does (the doc comment of the function).
///     unsafe fn pp_rs_name(data: *const c_char) -> c_int;
///     safety = "`data` is NULL or a C string alive for the call.";
///     fallback = 0;
///     // SAFETY: as the contract says.
///     let data = unsafe { owned_bytes(data) };
///     {
///         safe code on the owned `data`
///     }
/// }
/// ```
///
/// An entry point that takes pointers is an `unsafe fn` whose `safety` text (what its
/// callers promise) becomes its `# Safety` section, and whose `let` lines turn the raw
/// arguments into owned values or `ffi` wrappers: the only place it may write `unsafe`. The
/// final block works on what they made and may not write `unsafe` at all. An entry point
/// that takes no pointer is a plain `fn`, with neither `safety` nor `let` lines.
macro_rules! entry {
    (
        $(#[doc = $doc:literal])*
        unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;
        safety = $safety:literal;
        fallback = $fallback:expr;
        $(let $var:pat = $convert:expr;)*
        $body:block
    ) => {
        $(#[doc = $doc])*
        ///
        /// # Safety
        #[doc = $safety]
        #[no_mangle]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            $crate::ffi::guard::guard(stringify!($name), $fallback, move || {
                $(let $var = $convert;)*
                #[forbid(unsafe_code)]
                let body = move || $body;
                body()
            })
        }
    };
    (
        $(#[doc = $doc:literal])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;
        fallback = $fallback:expr;
        $body:block
    ) => {
        $(#[doc = $doc])*
        #[no_mangle]
        #[allow(unsafe_code)]
        pub extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            #[forbid(unsafe_code)]
            let body = move || $body;
            $crate::ffi::guard::guard(stringify!($name), $fallback, body)
        }
    };
}

mod api;
mod entry;

/// What the built file says of the Asterisk it was built for, read by `make deb`
/// (scripts/deb.sh): the package depends on exactly that Asterisk's ABI and names its
/// version.
#[used]
static BUILT_FOR: &str = concat!(
    "res_phoneprov built for: asterisk ",
    env!("PP_HEADERS_VERSION"),
    " abi ",
    env!("PP_HEADERS_SUM"),
    "\n"
);

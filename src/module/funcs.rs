//! PP_EACH_USER and PP_EACH_EXTENSION over the current snapshot.

use std::fs;

use crate::ffi::host::{data_file, AstHost};
use crate::module::{http::render_for, state};
use phoneprov_core::funcs;
use phoneprov_core::uri::is_contained;

const EACH_USER: i32 = 0;
const EACH_EXTENSION: i32 = 1;

fn read_template(name: &str) -> Result<String, String> {
    if !is_contained(name) {
        return Err(format!(
            "PP_EACH_EXTENSION: '{name}' is not below AST_DATA_DIR/phoneprov"
        ));
    }
    let path = data_file(name);
    fs::read(&path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("Could not load file: {} ({e})", path.display()))
}

pub fn call(function: i32, data: &str) -> String {
    let Some(snap) = state::current() else {
        return String::new();
    };
    match function {
        EACH_USER => funcs::each_user(&snap, data, &render_for),
        EACH_EXTENSION => funcs::each_extension(&snap, data, &AstHost, &read_template, &render_for),
        _ => String::new(),
    }
}

//! Whether the module was built for the Asterisk it is loaded in. Asterisk's own loader
//! refuses a module whose build-option checksum differs, with a warning that does not say
//! what to do; this says which options and which version, and how to fix it.

/// What the module was built against, or what is running: Asterisk's version and build
/// options (`AST_BUILDOPTS_ALL`, as `ast_get_build_opts_all` gives them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asterisk<'a> {
    pub version: &'a str,
    pub build_options: &'a str,
}

/// The build options in a comparable form: the list, trimmed, in order.
fn options(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect()
}

/// Why the module must not load in `running` when built against `built`: Err with the
/// message of an ERROR. Ok(Some) is a warning: the versions differ (the options agree).
/// What is unknown on either side (empty) is not held against it.
pub fn check(built: Asterisk, running: Asterisk) -> Result<Option<String>, String> {
    let rebuild = "rebuild it with this Asterisk's headers (asterisk-dev of the same \
                   version, then make; see docs/operations.md)";
    if !built.build_options.is_empty()
        && !running.build_options.is_empty()
        && options(built.build_options) != options(running.build_options)
    {
        return Err(format!(
            "res_phoneprov was built for an Asterisk with the build options \"{}\" \
             (Asterisk {}), but this Asterisk has \"{}\" (Asterisk {}): it is not loaded; {rebuild}",
            built.build_options,
            if built.version.is_empty() { "of unknown version" } else { built.version },
            running.build_options,
            running.version
        ));
    }
    if !built.version.is_empty() && !running.version.is_empty() && built.version != running.version
    {
        return Ok(Some(format!(
            "res_phoneprov was built with the headers of Asterisk {}, and runs in Asterisk {}: \
             the build options agree, but the module reads structures of Asterisk that may \
             differ between versions; {rebuild}",
            built.version, running.version
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &str = "OPTIONAL_API, TEST_FRAMEWORK";

    fn ast<'a>(version: &'a str, build_options: &'a str) -> Asterisk<'a> {
        Asterisk {
            version,
            build_options,
        }
    }

    #[test]
    fn the_same_asterisk_loads_quietly() {
        assert_eq!(check(ast("22.10.1", OPTS), ast("22.10.1", OPTS)), Ok(None));
        // Spacing is not a difference.
        assert_eq!(
            check(
                ast("22.10.1", "OPTIONAL_API,TEST_FRAMEWORK"),
                ast("22.10.1", OPTS)
            ),
            Ok(None)
        );
    }

    #[test]
    fn other_build_options_refuse_with_both_named() {
        let err = check(ast("22.10.1", OPTS), ast("22.10.1", "OPTIONAL_API")).unwrap_err();
        assert!(err.contains("\"OPTIONAL_API, TEST_FRAMEWORK\""), "{err}");
        assert!(err.contains("this Asterisk has \"OPTIONAL_API\""), "{err}");
        assert!(err.contains("it is not loaded"), "{err}");
    }

    #[test]
    fn another_version_with_the_same_options_warns() {
        let warning = check(ast("22.10.1", OPTS), ast("22.11.0", OPTS))
            .expect("loads")
            .expect("a warning");
        assert!(warning.contains("Asterisk 22.10.1, and runs in Asterisk 22.11.0"));
    }

    #[test]
    fn unknown_sides_are_not_held_against_the_module() {
        assert_eq!(check(ast("", ""), ast("22.10.1", OPTS)), Ok(None));
        assert_eq!(check(ast("", OPTS), ast("22.11.0", OPTS)), Ok(None));
    }
}

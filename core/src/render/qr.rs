//! QR codes as SVG, so an administrator can open an account's code in a browser and scan it
//! with the Linphone app.

use std::fmt::Write as _;

use qrcode::{Color, EcLevel, QrCode};

/// Quiet zone around the code, in modules (the standard asks for 4).
const QUIET: usize = 4;
/// Size of a module in the SVG's width and height, in pixels.
const SCALE: usize = 6;

/// `text` as a QR code in SVG: one `<rect>` per horizontal run of dark modules, in module
/// units (the viewBox includes the quiet zone).
pub fn svg(text: &[u8]) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|e| format!("cannot encode {} bytes as a QR code: {e}", text.len()))?;
    let w = code.width();
    let colors = code.to_colors();
    let side = w + 2 * QUIET;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 {side} {side}\" \
         width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\">\n\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\n<g fill=\"#000\">\n",
        px = side * SCALE
    );
    for y in 0..w {
        let row = &colors[y * w..(y + 1) * w];
        let mut x = 0;
        while x < w {
            if row[x] == Color::Dark {
                let start = x;
                while x < w && row[x] == Color::Dark {
                    x += 1;
                }
                let _ = writeln!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"1\"/>",
                    start + QUIET,
                    y + QUIET,
                    x - start
                );
            } else {
                x += 1;
            }
        }
    }
    out.push_str("</g>\n</svg>\n");
    Ok(out)
}

/// `text` as a QR code for a terminal, two module rows per line with the half-block
/// characters. Light modules are drawn, dark ones left blank: on the usual light-on-dark
/// terminal the code then reads dark-on-light, as scanners expect.
pub fn terminal(text: &[u8]) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|e| format!("cannot encode {} bytes as a QR code: {e}", text.len()))?;
    let w = code.width();
    let colors = code.to_colors();
    let side = w + 2 * QUIET;
    let light = |x: usize, y: usize| {
        let inside = (QUIET..QUIET + w).contains(&x) && (QUIET..QUIET + w).contains(&y);
        !inside || colors[(y - QUIET) * w + (x - QUIET)] == Color::Light
    };
    let mut out = String::with_capacity(side * side);
    for y in (0..side).step_by(2) {
        for x in 0..side {
            let bottom = y + 1 < side && light(x, y + 1);
            out.push(match (light(x, y), bottom) {
                (true, true) => '\u{2588}',
                (true, false) => '\u{2580}',
                (false, true) => '\u{2584}',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// The dark modules of an SVG made by [`svg`], as (side, dark(x, y)) in module units; for
/// tests that decode the code again.
pub fn modules(svg: &str) -> Option<(usize, Vec<bool>)> {
    let side: usize = svg
        .split("viewBox=\"0 0 ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let mut dark = vec![false; side * side];
    for rect in svg.split("<rect x=\"").skip(1) {
        let num = |attr: &str| -> Option<usize> {
            let v = if attr.is_empty() {
                rect.split('"').next()?
            } else {
                rect.split(attr).nth(1)?.split('"').next()?
            };
            v.parse().ok()
        };
        let (x, y, width) = (num("")?, num("y=\"")?, num("width=\"")?);
        for i in x..x + width {
            *dark.get_mut(y * side + i)? = true;
        }
    }
    Some((side, dark))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_round_trips_to_the_module_grid() {
        let s = svg(b"http://127.0.0.1:8088/phoneprov/0004f2000001.xml").unwrap();
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(crate::render::xmlcheck::check(&s).is_ok());
        let (side, dark) = modules(&s).unwrap();
        let code = QrCode::with_error_correction_level(
            b"http://127.0.0.1:8088/phoneprov/0004f2000001.xml",
            EcLevel::M,
        )
        .unwrap();
        assert_eq!(side, code.width() + 8);
        let colors = code.to_colors();
        for y in 0..code.width() {
            for x in 0..code.width() {
                let expected = colors[y * code.width() + x] == Color::Dark;
                assert_eq!(dark[(y + 4) * side + x + 4], expected, "({x}, {y})");
            }
        }
        assert!(!dark[0]);
    }

    #[test]
    fn too_long_is_an_error() {
        assert!(svg("x".repeat(5000).as_bytes()).is_err());
    }

    #[test]
    fn terminal_code_has_the_svg_modules() {
        let url = b"http://192.0.2.1:8088/phoneprov/enroll/0123456789abcdef0123456789abcdef";
        let (side, dark) = modules(&svg(url).unwrap()).unwrap();
        let text = terminal(url).unwrap();
        let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        for y in 0..side {
            for x in 0..side {
                let c = lines[y / 2][x];
                let light = matches!(
                    (c, y % 2),
                    ('\u{2588}', _) | ('\u{2580}', 0) | ('\u{2584}', 1)
                );
                assert_eq!(light, !dark[y * side + x], "({x}, {y})");
            }
        }
    }
}

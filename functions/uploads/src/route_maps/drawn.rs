//! Our own map image: the route as an orange line on a plain background, a green start
//! and a dark finish marker, 1200x800 (600x400 at 2x), in Web Mercator so shapes look as
//! they do on a map. No network, no token.

use async_trait::async_trait;
use runcrew_shared::route::Route;
use tiny_skia::{
    Color, FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Stroke, Transform,
};

use super::{HEIGHT, MapError, RouteMaps, WIDTH};

/// Pixels kept free around the route.
const PADDING: f32 = 80.0;

/// The drawing adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct DrawnMaps;

/// Web Mercator x and y of a position, in units of the map's width.
fn mercator(lng: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.05, 85.05).to_radians();
    let x = (lng + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x, y)
}

fn paint(rgba: (u8, u8, u8, u8)) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(Color::from_rgba8(rgba.0, rgba.1, rgba.2, rgba.3));
    paint.anti_alias = true;
    paint
}

/// Draws `route` and returns the PNG.
pub fn draw(route: &Route) -> Result<Vec<u8>, MapError> {
    let (w, h) = (WIDTH * 2, HEIGHT * 2);
    let mut pixmap = Pixmap::new(w, h).ok_or_else(|| MapError::Drawing("no canvas".into()))?;
    pixmap.fill(Color::from_rgba8(0xf3, 0xf1, 0xec, 0xff));

    let projected: Vec<(f64, f64)> = route.coords().iter().map(|c| mercator(c.x, c.y)).collect();
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in &projected {
        min_x = min_x.min(x);
        max_x = max_x.max(x);
        min_y = min_y.min(y);
        max_y = max_y.max(y);
    }
    let span_x = (max_x - min_x).max(1e-12);
    let span_y = (max_y - min_y).max(1e-12);
    let scale = ((f64::from(w) - 2.0 * f64::from(PADDING)) / span_x)
        .min((f64::from(h) - 2.0 * f64::from(PADDING)) / span_y);
    let (cx, cy) = ((min_x + max_x) / 2.0, (min_y + max_y) / 2.0);
    let to_px = |(x, y): (f64, f64)| {
        (
            (f64::from(w) / 2.0 + (x - cx) * scale) as f32,
            (f64::from(h) / 2.0 + (y - cy) * scale) as f32,
        )
    };

    let mut path = PathBuilder::new();
    for (i, &p) in projected.iter().enumerate() {
        let (x, y) = to_px(p);
        if i == 0 {
            path.move_to(x, y);
        } else {
            path.line_to(x, y);
        }
    }
    let path = path
        .finish()
        .ok_or_else(|| MapError::Drawing("empty path".into()))?;
    let stroke = |width: f32| Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    };
    pixmap.stroke_path(
        &path,
        &paint((0xff, 0xff, 0xff, 0xff)),
        &stroke(16.0),
        Transform::identity(),
        None,
    );
    pixmap.stroke_path(
        &path,
        &paint((0xff, 0x6a, 0x00, 0xff)),
        &stroke(10.0),
        Transform::identity(),
        None,
    );

    let marker = |pixmap: &mut Pixmap, at: (f32, f32), fill: (u8, u8, u8, u8)| {
        if let Some(ring) = PathBuilder::from_circle(at.0, at.1, 18.0) {
            pixmap.fill_path(
                &ring,
                &paint((0xff, 0xff, 0xff, 0xff)),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
        if let Some(dot) = PathBuilder::from_circle(at.0, at.1, 12.0) {
            pixmap.fill_path(
                &dot,
                &paint(fill),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    };
    let first = to_px(projected[0]);
    let last = to_px(projected[projected.len() - 1]);
    marker(&mut pixmap, last, (0x22, 0x22, 0x22, 0xff));
    marker(&mut pixmap, first, (0x1e, 0xa4, 0x4b, 0xff));

    pixmap
        .encode_png()
        .map_err(|e| MapError::Drawing(e.to_string()))
}

#[async_trait]
impl RouteMaps for DrawnMaps {
    async fn render(&self, route: &Route) -> Result<Vec<u8>, MapError> {
        draw(route)
    }

    fn name(&self) -> &'static str {
        "drawn"
    }
}

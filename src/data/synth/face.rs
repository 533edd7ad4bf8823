//! The face renderer of the synthetic benchmark: a subject (drawn appearance) showing an
//! expression (a point in a small space of facial deformations), rendered with anti-aliased
//! analytic shapes. Coordinates are face units: x right, y down, the face about 1.3 wide.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

type Rgb = [f32; 3];

/// A subject's appearance, fixed across all of its videos.
#[derive(Clone, Debug)]
pub struct Subject {
    pub skin: Rgb,
    pub hair: Rgb,
    pub background: Rgb,
    pub lips: Rgb,
    pub iris: Rgb,
    /// Face ellipse half-axes.
    pub face_rx: f32,
    pub face_ry: f32,
    /// Horizontal distance of each eye from the centre, and eye half-width.
    pub eye_dx: f32,
    pub eye_r: f32,
    pub mouth_w: f32,
    pub brow_thickness: f32,
    /// The subject's resting face: some look a little happy, sad or surprised at rest.
    pub rest: Expression,
}

impl Subject {
    pub fn draw(rng: &mut ChaCha8Rng) -> Subject {
        let tone = rng.gen_range(0.25f32..0.95);
        let skin = [tone, tone * rng.gen_range(0.72..0.85), tone * rng.gen_range(0.55..0.72)];
        let h = rng.gen_range(0.05f32..0.55);
        let hair = [h, h * rng.gen_range(0.6..0.9), h * rng.gen_range(0.3..0.7)];
        let background = [
            rng.gen_range(0.1..0.9),
            rng.gen_range(0.1..0.9),
            rng.gen_range(0.1..0.9),
        ];
        let lips = [skin[0] * 0.85 + 0.1, skin[1] * 0.55, skin[2] * 0.55];
        let i = rng.gen_range(0.05f32..0.4);
        Subject {
            skin,
            hair,
            background,
            lips,
            iris: [i, i * rng.gen_range(0.6..1.4), i * rng.gen_range(0.5..1.2)],
            face_rx: rng.gen_range(0.55..0.68),
            face_ry: rng.gen_range(0.75..0.88),
            eye_dx: rng.gen_range(0.2..0.27),
            eye_r: rng.gen_range(0.1..0.14),
            mouth_w: rng.gen_range(0.18..0.26),
            brow_thickness: rng.gen_range(0.7..1.3),
            rest: Expression {
                brow_raise: rng.gen_range(-0.2..0.2),
                eye_open: rng.gen_range(0.85..1.15),
                mouth_curve: rng.gen_range(-0.15..0.15),
                ..Expression::default()
            },
        }
    }
}

/// Facial deformation parameters; zero everywhere except `eye_open` = 1 is a neutral face.
/// Expressions add: rest + class pattern x intensity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expression {
    /// Brows up (+) or down (-).
    pub brow_raise: f32,
    /// Inner brow ends up (+, sad / fear) or pulled down (-, anger).
    pub brow_inner: f32,
    /// Eye opening, 1 = rest, 0 = closed.
    pub eye_open: f32,
    /// Mouth width change (relative).
    pub mouth_width: f32,
    /// Jaw drop, 0 = closed lips.
    pub mouth_open: f32,
    /// Corners up (+, smile) or down (-).
    pub mouth_curve: f32,
    /// One corner raised (disgust).
    pub mouth_tilt: f32,
    /// Upper lip / mouth raised towards the nose.
    pub mouth_raise: f32,
    /// Nose wrinkles and cheek raise shown as shading, 0..1.
    pub wrinkle: f32,
    pub cheeks: f32,
}

impl Default for Expression {
    fn default() -> Self {
        Expression {
            brow_raise: 0.0,
            brow_inner: 0.0,
            eye_open: 1.0,
            mouth_width: 0.0,
            mouth_open: 0.0,
            mouth_curve: 0.0,
            mouth_tilt: 0.0,
            mouth_raise: 0.0,
            wrinkle: 0.0,
            cheeks: 0.0,
        }
    }
}

impl Expression {
    /// `self + delta * k` on every parameter (eye_open's neutral value 1 is not counted twice).
    pub fn add(&self, delta: &Expression, k: f32) -> Expression {
        Expression {
            brow_raise: self.brow_raise + delta.brow_raise * k,
            brow_inner: self.brow_inner + delta.brow_inner * k,
            eye_open: self.eye_open + (delta.eye_open - 1.0) * k,
            mouth_width: self.mouth_width + delta.mouth_width * k,
            mouth_open: self.mouth_open + delta.mouth_open * k,
            mouth_curve: self.mouth_curve + delta.mouth_curve * k,
            mouth_tilt: self.mouth_tilt + delta.mouth_tilt * k,
            mouth_raise: self.mouth_raise + delta.mouth_raise * k,
            wrinkle: self.wrinkle + delta.wrinkle * k,
            cheeks: self.cheeks + delta.cheeks * k,
        }
    }
}

/// Where the camera is: face centre offset (face units) and zoom (1 = face fills ~80 % of height).
#[derive(Clone, Copy, Debug, Default)]
pub struct Camera {
    pub dx: f32,
    pub dy: f32,
    pub zoom: f32,
}

/// An occluder (a hand, an object) in face units, drawn over the face.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Occluder {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub colour: Rgb,
}

/// Approximate signed distance to an ellipse: the implicit function divided by its gradient
/// length, which stays a good distance estimate for very thin ellipses (closing eyes), where
/// scaling by the smaller radius would smear a thin line across the frame.
fn ellipse_sd(u: f32, v: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> f32 {
    let (x, y) = (u - cx, v - cy);
    let k0 = ((x / rx).powi(2) + (y / ry).powi(2)).sqrt();
    let k1 = ((x / (rx * rx)).powi(2) + (y / (ry * ry)).powi(2)).sqrt();
    if k1 < 1e-12 {
        return -rx.min(ry);
    }
    k0 * (k0 - 1.0) / k1
}

fn capsule_sd(u: f32, v: f32, a: (f32, f32), b: (f32, f32), r: f32) -> f32 {
    let (pa, ba) = ((u - a.0, v - a.1), (b.0 - a.0, b.1 - a.1));
    let h = ((pa.0 * ba.0 + pa.1 * ba.1) / (ba.0 * ba.0 + ba.1 * ba.1).max(1e-12)).clamp(0.0, 1.0);
    let (dx, dy) = (pa.0 - ba.0 * h, pa.1 - ba.1 * h);
    (dx * dx + dy * dy).sqrt() - r
}

fn blend(dst: &mut Rgb, src: Rgb, alpha: f32) {
    if alpha > 0.0 {
        for c in 0..3 {
            dst[c] += (src[c] - dst[c]) * alpha.min(1.0);
        }
    }
}

/// Renders a `size` x `size` RGB frame in [0, 1], interleaved (H, W, 3).
pub fn render(s: &Subject, e: &Expression, cam: &Camera, occluder: Option<&Occluder>, size: usize) -> Vec<f32> {
    let mut out = vec![0f32; size * size * 3];
    let scale = 2.0 / (size as f32 * 0.9 * cam.zoom.max(0.1));
    // Coverage of a shape from its signed distance: a one-pixel soft edge (anti-aliasing).
    let cov = |sd: f32| (0.5 - sd / scale).clamp(0.0, 1.0);
    let (eye_y, mouth_y) = (-0.12, 0.42 - 0.06 * e.mouth_raise);
    let eye_ry = (s.eye_r * 0.55 * e.eye_open.max(0.0)).max(1e-3);
    let mw = s.mouth_w * (1.0 + e.mouth_width).max(0.3);
    let dark = [s.skin[0] * 0.6, s.skin[1] * 0.5, s.skin[2] * 0.5];
    for py in 0..size {
        for px in 0..size {
            let u = ((px as f32 + 0.5) - size as f32 / 2.0) * scale - cam.dx;
            let v = ((py as f32 + 0.5) - size as f32 / 2.0) * scale - cam.dy + 0.05;
            let mut col = s.background;
            // Background shading so the scene is not flat.
            col.iter_mut().for_each(|c| *c *= 0.85 + 0.15 * (1.0 - (v + 1.0) * 0.5));
            blend(
                &mut col,
                s.hair,
                cov(ellipse_sd(u, v, 0.0, -0.18, s.face_rx * 1.12, s.face_ry * 0.95)),
            );
            blend(&mut col, s.skin, cov(ellipse_sd(u, v, 0.0, 0.05, s.face_rx, s.face_ry)));
            blend(
                &mut col,
                [s.skin[0] * 1.05, s.skin[1] * 0.7, s.skin[2] * 0.7],
                0.5 * e.cheeks * { cov(ellipse_sd(u.abs(), v, 0.32, 0.22, 0.12, 0.08)) },
            );
            for side in [-1.0f32, 1.0] {
                let ex = side * s.eye_dx;
                let sclera = cov(ellipse_sd(u, v, ex, eye_y, s.eye_r, eye_ry));
                blend(&mut col, [0.95, 0.95, 0.92], sclera);
                blend(
                    &mut col,
                    s.iris,
                    sclera.min(cov(ellipse_sd(u, v, ex, eye_y, s.eye_r * 0.45, s.eye_r * 0.45))),
                );
                // Brow: inner end near the nose, outer end beyond the eye.
                let by = eye_y - 0.16 - 0.08 * e.brow_raise;
                let inner = (ex - side * s.eye_r * 0.9, by - 0.07 * e.brow_inner);
                let outer = (ex + side * s.eye_r * 1.1, by + 0.02 * e.brow_inner);
                blend(
                    &mut col,
                    s.hair,
                    cov(capsule_sd(u, v, inner, outer, 0.022 * s.brow_thickness)),
                );
                // Nose wrinkles (disgust).
                let w = (side * 0.07, 0.06);
                let wrinkle = cov(capsule_sd(u, v, w, (side * 0.12, 0.14), 0.012));
                blend(&mut col, dark, e.wrinkle.clamp(0.0, 1.0) * wrinkle);
            }
            blend(
                &mut col,
                dark,
                0.6 * cov(capsule_sd(u, v, (0.0, 0.02), (0.0, 0.2), 0.022)),
            );
            // Mouth: a centre line bent by curve and tilt; the jaw drop opens a dark gap whose
            // height falls to zero at the corners; lips are bands around the two edges.
            let t = u / mw;
            if t.abs() <= 1.25 {
                let tc = t.clamp(-1.0, 1.0);
                let yc = mouth_y - 0.1 * e.mouth_curve * tc * tc + 0.06 * e.mouth_tilt * tc;
                let gap = 0.16 * e.mouth_open.max(0.0) * (1.0 - tc * tc);
                let (yu, yl) = (yc - 0.3 * gap, yc + 0.7 * gap);
                let side = (u.abs() - mw) * 1.0;
                let inside = (v - yl).max(yu - v).max(side);
                blend(&mut col, [0.25, 0.05, 0.06], cov(inside));
                let lip_u = ((v - yu).abs() - 0.022).max(side);
                let lip_l = ((v - yl).abs() - 0.026).max(side);
                blend(&mut col, s.lips, cov(lip_u).max(cov(lip_l)));
            }
            if let Some(o) = occluder {
                let sd = (o.x0 - u).max(u - o.x1).max(o.y0 - v).max(v - o.y1);
                blend(&mut col, o.colour, cov(sd));
            }
            out[(py * size + px) * 3..][..3].copy_from_slice(&col);
        }
    }
    out
}

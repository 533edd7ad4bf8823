//! Plot colours. Series colours come from the Okabe-Ito palette, chosen because its hues stay
//! distinguishable under the common colour-vision deficiencies; background tints are pale mixes
//! of the same hues so bands never compete with the data drawn over them.

use super::canvas::Color;

pub const WHITE: Color = [255, 255, 255];
pub const BLACK: Color = [0, 0, 0];
/// Axis frames, tick marks and tick labels: dark but softer than the data.
pub const INK: Color = [40, 40, 40];
/// Grid lines: just visible enough to read values off.
pub const GRID: Color = [225, 225, 225];

pub const BLUE: Color = [0, 114, 178];
pub const VERMILLION: Color = [213, 94, 0];
pub const ORANGE: Color = [230, 159, 0];
pub const SKY: Color = [86, 180, 233];
pub const GREEN: Color = [0, 158, 115];
pub const PURPLE: Color = [204, 121, 167];
pub const GREY: Color = [140, 140, 140];

/// Training-phase colours, shared by every plot so a phase looks the same everywhere: warm-up
/// grey (nothing learned about the video yet), exploration red like the reference
/// implementation's figures, exploitation (softmax sampling) blue.
pub const WARM_UP: Color = GREY;
pub const EXPLORATION: Color = VERMILLION;
pub const EXPLOITATION: Color = BLUE;
/// A phase name we do not know: still drawn, in a colour that matches none of the above.
pub const OTHER_PHASE: Color = PURPLE;

/// The colour of a phase as the training loop names it. Accepts a few spellings so a renamed
/// phase string does not silently lose its colour.
pub fn phase_color(phase: &str) -> Color {
    match phase.trim().to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
        "warm-up" | "warmup" | "uniform" => WARM_UP,
        "exploration" | "explore" => EXPLORATION,
        "exploitation" | "exploit" | "softmax" | "stochastic-softmax" => EXPLOITATION,
        _ => OTHER_PHASE,
    }
}

/// `c` mixed towards white, `amount` = 0 keeps `c`, 1 gives white.
pub fn tint(c: Color, amount: f64) -> Color {
    let a = amount.clamp(0.0, 1.0);
    c.map(|v| (v as f64 + a * (255.0 - v as f64)).round() as u8)
}

/// `c` three quarters as bright: text in a phase colour, readable on that phase's pale band.
pub fn darker(c: Color) -> Color {
    c.map(|v| (v as u16 * 3 / 4) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_map_to_their_colours() {
        assert_eq!(phase_color("warm-up"), WARM_UP);
        assert_eq!(phase_color("Warmup"), WARM_UP);
        assert_eq!(phase_color("exploration"), EXPLORATION);
        assert_eq!(phase_color("exploitation"), EXPLOITATION);
        assert_eq!(phase_color("stochastic_softmax"), EXPLOITATION);
        assert_eq!(phase_color("???"), OTHER_PHASE);
    }

    #[test]
    fn tint_goes_towards_white() {
        assert_eq!(tint(BLACK, 0.0), BLACK);
        assert_eq!(tint(BLACK, 1.0), WHITE);
        assert_eq!(tint([100, 0, 200], 0.5), [178, 128, 228]);
    }
}

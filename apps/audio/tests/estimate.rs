//! The header-only memory estimate takes its per-window stage sizes from the engine's probe.

use sqrtspace::{ByteSize, Config, Error};
use sqrtspace_audio::pipeline::{per_window_bytes, spectrum};
use sqrtspace_audio::{AudioParams, AudioPipeline};

#[test]
fn per_window_sizes_come_from_the_engine_probe() {
    let params = AudioParams::new(8000);
    for window in [256usize, 1024, 4096] {
        let config = Config::default().with_window(window).with_hop(window / 4);
        let sizes = per_window_bytes(&config, &params).unwrap();
        assert_eq!(sizes.len(), AudioPipeline::STAGES.len());
        // The spectrum holds window / 2 + 1 bins, whatever the signal.
        let mut spec = Vec::new();
        spectrum(&vec![0.25f32; window], &mut spec);
        assert_eq!(spec.len(), window / 2 + 1);
        let i = AudioPipeline::STAGES
            .iter()
            .position(|s| s.name == "spectrum")
            .unwrap();
        assert_eq!(sizes[i], spec.byte_size());
        assert!(sizes.iter().all(|&b| b > 0), "{sizes:?}");
    }
}

#[test]
fn the_probe_needs_a_window_and_leaves_the_pipeline_clean() {
    let config = Config::default().with_window(512).with_hop(128);
    let mut pipe = AudioPipeline::new(config, AudioParams::new(8000)).unwrap();
    let short = vec![0.0f32; 100];
    assert!(matches!(
        pipe.probe_output_bytes(&short),
        Err(Error::RangeOutOfBounds { available: 0, .. })
    ));
    let silence = vec![0.0f32; 512 + 3 * 128];
    let sizes = pipe.probe_output_bytes(&silence).unwrap();
    assert_eq!(sizes.len(), AudioPipeline::STAGES.len());
    assert_eq!(pipe.lru().bytes(), 0, "no cached outputs are left behind");
}

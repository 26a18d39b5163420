//! [`AuralisOptions`]: a stream's settings as C sees them, with the library's defaults.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use auralis_core::opus::OpusSettings;
use auralis_core::stream::StreamSettings;
use auralis_core::{Container, Error, MasteringSettings, Preset};

use crate::status::{null, AuralisStatus, Failure};

/// [`AuralisOptions::container`]: Opus in WebM (`audio/webm; codecs="opus"`), the default.
pub const AURALIS_CONTAINER_WEBM: u32 = 0;
/// [`AuralisOptions::container`]: Opus in fragmented MP4 (`audio/mp4; codecs="opus"`; Safari
/// spells it `codecs="Opus"`).
pub const AURALIS_CONTAINER_MP4: u32 = 1;

/// Settings of a stream. Get the defaults from [`auralis_options_default`] and change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AuralisOptions {
    /// Preset name: "adaptive", "gentle", "warm", "bright", "punchy", "live" or "none".
    /// Copied; NULL means the default preset ("adaptive").
    pub preset: *const c_char,
    /// 0.0 to 1.0.
    pub intensity: f64,
    /// Chunk length in seconds, a positive multiple of 0.02.
    pub chunk_seconds: f64,
    /// Opus bitrate in bit/s, 32000 to 512000.
    pub bitrate: u32,
    /// Opus complexity, 0 to 10.
    pub complexity: u32,
    /// Directory of the on-disk chunk cache (copied; created if missing), or NULL for memory
    /// only.
    pub cache_dir: *const c_char,
    /// The container of init segments, media segments and chunk files:
    /// [`AURALIS_CONTAINER_WEBM`] or [`AURALIS_CONTAINER_MP4`]. Not part of the cache key: a
    /// chunk is encoded once and served in either.
    pub container: u32,
}

/// The defaults, the same as every face of the library: preset "adaptive", intensity 1.0,
/// chunk_seconds 30, bitrate 128000, complexity 10, cache_dir NULL, container WebM.
#[no_mangle]
pub extern "C" fn auralis_options_default() -> AuralisOptions {
    let d = StreamSettings::default();
    AuralisOptions {
        // A static NUL-terminated copy of the default preset's name.
        preset: preset_name_c(d.mastering.preset),
        intensity: d.mastering.intensity,
        chunk_seconds: d.chunk_seconds,
        bitrate: d.opus.bitrate_bps,
        complexity: u32::from(d.opus.complexity),
        cache_dir: std::ptr::null(),
        container: container_code(d.container),
    }
}

fn container_code(c: Container) -> u32 {
    match c {
        Container::Webm => AURALIS_CONTAINER_WEBM,
        Container::Mp4 => AURALIS_CONTAINER_MP4,
    }
}

/// A container code as the library's container; any other value is an invalid argument.
pub(crate) fn container(code: u32) -> Result<Container, Failure> {
    Container::ALL
        .into_iter()
        .find(|&c| container_code(c) == code)
        .ok_or_else(|| {
            Failure(
                AuralisStatus::InvalidArgument,
                format!(
                    "invalid container {code}: AURALIS_CONTAINER_WEBM (0) or AURALIS_CONTAINER_MP4 (1)"
                ),
            )
        })
}

/// The MIME type of a container (`AURALIS_CONTAINER_WEBM` or `AURALIS_CONTAINER_MP4`) for
/// `MediaSource.isTypeSupported` and `addSourceBuffer`, as a static string; NULL for any other
/// value. For MP4, Safari wants `codecs="Opus"` (capital O) where other browsers take this.
#[no_mangle]
pub extern "C" fn auralis_container_mime(container: u32) -> *const c_char {
    match self::container(container) {
        Ok(Container::Webm) => c"audio/webm; codecs=\"opus\"".as_ptr(),
        Ok(Container::Mp4) => c"audio/mp4; codecs=\"opus\"".as_ptr(),
        Err(_) => std::ptr::null(),
    }
}

/// A preset's name as a static C string.
fn preset_name_c(preset: Preset) -> *const c_char {
    let name: &'static CStr = match preset {
        Preset::Adaptive => c"adaptive",
        Preset::Gentle => c"gentle",
        Preset::Warm => c"warm",
        Preset::Bright => c"bright",
        Preset::Punchy => c"punchy",
        Preset::Live => c"live",
        Preset::None => c"none",
    };
    debug_assert_eq!(name.to_str(), Ok(preset.name()));
    name.as_ptr()
}

/// A C string argument as UTF-8.
pub(crate) fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller promises a NUL-terminated string (the `# Safety` sections say so).
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| {
        Failure(
            AuralisStatus::InvalidArgument,
            format!("{name} is not valid UTF-8"),
        )
    })
}

/// A preset argument: NULL is the default preset.
pub(crate) fn preset(ptr: *const c_char, name: &str) -> Result<Preset, Failure> {
    if ptr.is_null() {
        return Ok(StreamSettings::default().mastering.preset);
    }
    Ok(Preset::from_name(text(ptr, name)?).map_err(Error::from)?)
}

/// The stream settings and cache directory of `options`, checked.
pub(crate) fn settings(
    options: &AuralisOptions,
) -> Result<(StreamSettings, Option<PathBuf>), Failure> {
    let cache_dir = if options.cache_dir.is_null() {
        None
    } else {
        Some(PathBuf::from(text(
            options.cache_dir,
            "options->cache_dir",
        )?))
    };
    let settings = StreamSettings {
        mastering: MasteringSettings::new(
            preset(options.preset, "options->preset")?,
            options.intensity,
        ),
        chunk_seconds: options.chunk_seconds,
        opus: OpusSettings {
            bitrate_bps: options.bitrate,
            complexity: u8::try_from(options.complexity).unwrap_or(u8::MAX),
        },
        container: container(options.container)?,
        ..StreamSettings::default()
    };
    settings.validate()?;
    Ok((settings, cache_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_defaults_are_the_librarys() {
        let o = auralis_options_default();
        let (s, dir) = settings(&o).ok().unwrap();
        assert_eq!(s, StreamSettings::default());
        assert!(dir.is_none());
        for c in Container::ALL {
            let code = container_code(c);
            assert_eq!(container(code).ok(), Some(c));
            // SAFETY: a static NUL-terminated string.
            let mime = unsafe { CStr::from_ptr(auralis_container_mime(code)) };
            assert_eq!(mime.to_str().unwrap(), c.mime());
        }
        assert!(container(2).is_err() && auralis_container_mime(2).is_null());
        for p in Preset::ALL {
            // SAFETY: a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(preset_name_c(p)) };
            assert_eq!(name.to_str().unwrap(), p.name());
        }
    }
}

//! A chunk's outputs made in one call: its mastered PCM, media segment, chunk file and packets,
//! and a track's mastered PCM, all through [`ChunkRender`].

use super::render::ChunkRender;
use crate::error::Error;
use crate::format::Container;
use crate::mastering::MasteringParams;
use crate::opus::{self, OpusSettings};
use crate::plan::ChunkPlan;
use crate::render::Renderer;

/// The init segment of a track's stream in `container` (identical for every chunk, bitrate and
/// mastering of the track).
pub fn init_segment(renderer: &Renderer, container: Container) -> Vec<u8> {
    container.init_segment(renderer.channels() as u8, renderer.frames())
}

/// Chunk `index` of `plan` mastered with `params`: interleaved 48 kHz samples, exactly its
/// frames, rendered in parts on the renderer's threads.
pub fn mastered_pcm(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
) -> Result<Vec<f32>, Error> {
    ChunkRender::start(renderer, plan, index, params, None, None)?.finish_pcm()
}

/// Chunk `index` as a media segment in `container` (WebM Clusters or MP4 fragments only).
pub fn media_segment(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
    opus: &OpusSettings,
    container: Container,
) -> Result<Vec<u8>, Error> {
    Ok(
        ChunkRender::start(renderer, plan, index, params, None, Some(opus))?
            .in_container(container)
            .finish()?
            .0,
    )
}

/// Chunk `index` as a chunk file: the init segment followed by the media segment, a valid
/// standalone WebM or MP4 that MSE accepts as is.
pub fn chunk_file(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
    opus: &OpusSettings,
    container: Container,
) -> Result<Vec<u8>, Error> {
    let mut file = init_segment(renderer, container);
    file.extend(media_segment(
        renderer, plan, index, params, opus, container,
    )?);
    Ok(file)
}

/// Chunk `index`'s Opus packets (the same packets its media segment holds), with its place and
/// padding.
pub fn encoded(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
    opus: &OpusSettings,
) -> Result<opus::EncodedChunk, Error> {
    // `start` checks the index and the plan against the track.
    let render = ChunkRender::start(renderer, plan, index, params, None, Some(opus))?;
    Ok(render.finish_encoded()?.0)
}

/// Every chunk of `plan`, mastered and joined: the same samples as each [`mastered_pcm`].
/// Holds the whole track in memory.
pub fn mastered_track(
    renderer: &Renderer,
    plan: &ChunkPlan,
    params: &MasteringParams,
) -> Result<Vec<f32>, Error> {
    let mut pcm = Vec::with_capacity(renderer.frames() as usize * renderer.channels() as usize);
    for c in plan.chunks() {
        pcm.extend(mastered_pcm(renderer, plan, c.index, params)?);
    }
    Ok(pcm)
}

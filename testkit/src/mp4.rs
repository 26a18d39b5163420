//! A strict reader for the MP4 auralis-core writes: it checks box structure and
//! sizes, the fields MSE and players depend on, `tfdt` against the durations before it, and
//! returns the Opus packets with their timing. Anything outside that subset is an error.

use auralis_core::format::bmff;

/// Why bytes are not the MP4 this crate writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MP4 at byte {offset}: {reason}")]
pub struct Mp4Error {
    /// Byte offset in the input.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

fn bad<T>(offset: usize, reason: impl Into<String>) -> Result<T, Mp4Error> {
    Err(Mp4Error {
        offset,
        reason: reason.into(),
    })
}

/// A box: its type, where it starts and the range of its body.
#[derive(Debug, Clone)]
struct Bx {
    kind: [u8; 4],
    start: usize,
    body: std::ops::Range<usize>,
}

fn children(buf: &[u8], range: std::ops::Range<usize>) -> Result<Vec<Bx>, Mp4Error> {
    let mut out = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        let within = &buf[pos..range.end];
        let Some(h) = bmff::header(within) else {
            return bad(pos, "truncated or undersized box header");
        };
        let Some(size) = h.size else {
            return bad(pos, "box of size 0 (to the end) is not written here");
        };
        if size > within.len() as u64 {
            return bad(
                pos,
                format!("box {} of size {size} runs past its parent", name(&h.kind)),
            );
        }
        let end = pos + size as usize;
        out.push(Bx {
            kind: h.kind,
            start: pos,
            body: pos + h.header_len..end,
        });
        pos = end;
    }
    Ok(out)
}

fn name(kind: &[u8; 4]) -> String {
    String::from_utf8_lossy(kind).into_owned()
}

/// The one child of `parent` of type `kind`.
fn one<'a>(boxes: &'a [Bx], kind: &[u8; 4], parent: usize) -> Result<&'a Bx, Mp4Error> {
    let mut found = boxes.iter().filter(|b| &b.kind == kind);
    match (found.next(), found.next()) {
        (Some(b), None) => Ok(b),
        (None, _) => bad(parent, format!("no {} box", name(kind))),
        _ => bad(parent, format!("more than one {} box", name(kind))),
    }
}

/// Reads big-endian fields from a body, checking its length.
struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
    end: usize,
}

impl<'a> Fields<'a> {
    fn of(buf: &'a [u8], b: &Bx) -> Self {
        Fields {
            buf,
            at: b.body.start,
            end: b.body.end,
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Mp4Error> {
        if self.end - self.at < n {
            return bad(self.at, "box body too short");
        }
        self.at += n;
        Ok(&self.buf[self.at - n..self.at])
    }
    fn u8(&mut self) -> Result<u8, Mp4Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Mp4Error> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, Mp4Error> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, Mp4Error> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    /// Version and flags of a full box, checked.
    fn full(&mut self, version: u8, flags: u32) -> Result<(), Mp4Error> {
        let at = self.at;
        let v = self.u32()?;
        if v >> 24 != u32::from(version) || v & 0xFF_FFFF != flags {
            return bad(
                at,
                format!("version/flags {v:#010x}, expected {version}/{flags:#x}"),
            );
        }
        Ok(())
    }
    fn done(&self) -> Result<(), Mp4Error> {
        if self.at != self.end {
            return bad(self.at, "unexpected bytes at the end of a box");
        }
        Ok(())
    }
}

/// What an init segment or a whole file's `moov` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Movie {
    /// 1 or 2.
    pub channels: u8,
    /// `dOps` PreSkip.
    pub pre_skip: u16,
    /// The edit: (segment duration, media time), 48 kHz frames.
    pub edit: (u64, u64),
    /// `mehd` fragment duration (fragmented files only).
    pub fragment_duration: Option<u64>,
    /// The `roll` distance of the sample group description.
    pub roll_distance: i16,
    /// Sample sizes from `stsz` (whole files only).
    pub sample_sizes: Vec<u32>,
    /// Sample durations from `stts` (whole files only).
    pub sample_durations: Vec<u32>,
    /// `co64` chunk offset (whole files only).
    pub chunk_offset: Option<u64>,
}

fn check_ftyp(buf: &[u8], b: &Bx) -> Result<(), Mp4Error> {
    let body = &buf[b.body.clone()];
    if body.len() < 8 || !(body.len() - 8).is_multiple_of(4) {
        return bad(b.start, "malformed ftyp");
    }
    if !body[8..].chunks(4).any(|c| c == b"Opus") {
        return bad(b.start, "ftyp does not list the Opus brand");
    }
    Ok(())
}

fn read_moov(buf: &[u8], moov: &Bx, fragmented: bool) -> Result<Movie, Mp4Error> {
    let mut movie = Movie::default();
    let kids = children(buf, moov.body.clone())?;
    let mut mvhd = Fields::of(buf, one(&kids, b"mvhd", moov.start)?);
    mvhd.full(1, 0)?;
    mvhd.take(16)?;
    if mvhd.u32()? != 48_000 {
        return bad(moov.start, "movie timescale is not 48000");
    }
    let traks: Vec<&Bx> = kids.iter().filter(|b| &b.kind == b"trak").collect();
    let [trak] = traks.as_slice() else {
        return bad(moov.start, "expected exactly one trak");
    };
    let t = children(buf, trak.body.clone())?;
    let mut tkhd = Fields::of(buf, one(&t, b"tkhd", trak.start)?);
    tkhd.full(1, 3)?;
    tkhd.take(16)?;
    if tkhd.u32()? != 1 {
        return bad(trak.start, "track ID is not 1");
    }
    let edts = children(buf, one(&t, b"edts", trak.start)?.body.clone())?;
    let elst_box = one(&edts, b"elst", trak.start)?;
    let mut elst = Fields::of(buf, elst_box);
    elst.full(1, 0)?;
    if elst.u32()? != 1 {
        return bad(elst_box.start, "expected one edit");
    }
    movie.edit = (elst.u64()?, elst.u64()?);
    if elst.u32()? != 0x0001_0000 {
        return bad(elst_box.start, "edit rate is not 1");
    }
    elst.done()?;
    let mdia_box = one(&t, b"mdia", trak.start)?;
    let mdia = children(buf, mdia_box.body.clone())?;
    let mut mdhd = Fields::of(buf, one(&mdia, b"mdhd", mdia_box.start)?);
    mdhd.full(1, 0)?;
    mdhd.take(16)?;
    if mdhd.u32()? != 48_000 {
        return bad(mdia_box.start, "media timescale is not 48000");
    }
    let mut hdlr = Fields::of(buf, one(&mdia, b"hdlr", mdia_box.start)?);
    hdlr.full(0, 0)?;
    hdlr.take(4)?;
    if hdlr.take(4)? != b"soun" {
        return bad(mdia_box.start, "handler is not soun");
    }
    let minf_box = one(&mdia, b"minf", mdia_box.start)?;
    let minf = children(buf, minf_box.body.clone())?;
    one(&minf, b"smhd", minf_box.start)?;
    one(&minf, b"dinf", minf_box.start)?;
    let stbl_box = one(&minf, b"stbl", minf_box.start)?;
    let stbl = children(buf, stbl_box.body.clone())?;
    let stsd_box = one(&stbl, b"stsd", stbl_box.start)?;
    let mut stsd = Fields::of(buf, stsd_box);
    stsd.full(0, 0)?;
    if stsd.u32()? != 1 {
        return bad(stsd_box.start, "expected one sample entry");
    }
    let entries = children(buf, stsd.at..stsd_box.body.end)?;
    let [entry] = entries.as_slice() else {
        return bad(stsd_box.start, "expected one sample entry box");
    };
    if &entry.kind != b"Opus" {
        return bad(entry.start, "sample entry is not Opus");
    }
    let mut e = Fields::of(buf, entry);
    e.take(6)?;
    if e.u16()? != 1 {
        return bad(entry.start, "data reference index is not 1");
    }
    e.take(8)?;
    let channels = e.u16()?;
    e.take(6)?;
    if e.u32()? != 48_000 << 16 {
        return bad(entry.start, "sample entry rate is not 48000");
    }
    let inner = children(buf, e.at..entry.body.end)?;
    let dops_box = one(&inner, b"dOps", entry.start)?;
    let mut dops = Fields::of(buf, dops_box);
    if dops.u8()? != 0 {
        return bad(dops_box.start, "dOps version is not 0");
    }
    movie.channels = dops.u8()?;
    movie.pre_skip = dops.u16()?;
    if dops.u32()? != 48_000 || dops.u16()? != 0 || dops.u8()? != 0 {
        return bad(
            dops_box.start,
            "dOps: input rate, gain or mapping family unexpected",
        );
    }
    dops.done()?;
    if u16::from(movie.channels) != channels || !(1..=2).contains(&movie.channels) {
        return bad(
            entry.start,
            "dOps and the sample entry disagree on channels",
        );
    }
    let mut sgpd = Fields::of(buf, one(&stbl, b"sgpd", stbl_box.start)?);
    sgpd.full(1, 0)?;
    if sgpd.take(4)? != b"roll" || sgpd.u32()? != 2 || sgpd.u32()? != 1 {
        return bad(stbl_box.start, "sgpd is not one roll entry");
    }
    movie.roll_distance = sgpd.u16()? as i16;
    sgpd.done()?;
    let mut stts = Fields::of(buf, one(&stbl, b"stts", stbl_box.start)?);
    stts.full(0, 0)?;
    for _ in 0..stts.u32()? {
        let (count, delta) = (stts.u32()?, stts.u32()?);
        movie
            .sample_durations
            .extend(std::iter::repeat_n(delta, count as usize));
    }
    stts.done()?;
    let mut stsz = Fields::of(buf, one(&stbl, b"stsz", stbl_box.start)?);
    stsz.full(0, 0)?;
    if stsz.u32()? != 0 {
        return bad(stbl_box.start, "stsz with a constant size");
    }
    for _ in 0..stsz.u32()? {
        let s = stsz.u32()?;
        movie.sample_sizes.push(s);
    }
    stsz.done()?;
    if fragmented {
        if !movie.sample_sizes.is_empty() || !movie.sample_durations.is_empty() {
            return bad(stbl_box.start, "an init segment with samples");
        }
        let mvex_box = one(&kids, b"mvex", moov.start)?;
        let mvex = children(buf, mvex_box.body.clone())?;
        let mut mehd = Fields::of(buf, one(&mvex, b"mehd", mvex_box.start)?);
        mehd.full(1, 0)?;
        movie.fragment_duration = Some(mehd.u64()?);
        let mut trex = Fields::of(buf, one(&mvex, b"trex", mvex_box.start)?);
        trex.full(0, 0)?;
        if trex.u32()? != 1 || trex.u32()? != 1 {
            return bad(mvex_box.start, "trex is not for track 1, description 1");
        }
        trex.take(8)?;
        if trex.u32()? != 0 {
            return bad(mvex_box.start, "default sample flags are not sync samples");
        }
    } else {
        if movie.sample_sizes.len() != movie.sample_durations.len() {
            return bad(stbl_box.start, "stts and stsz disagree on the sample count");
        }
        let mut co64 = Fields::of(buf, one(&stbl, b"co64", stbl_box.start)?);
        co64.full(0, 0)?;
        if co64.u32()? != 1 {
            return bad(stbl_box.start, "expected one chunk");
        }
        movie.chunk_offset = Some(co64.u64()?);
        let mut sbgp = Fields::of(buf, one(&stbl, b"sbgp", stbl_box.start)?);
        read_sbgp(&mut sbgp, movie.sample_sizes.len())?;
    }
    Ok(movie)
}

fn read_sbgp(sbgp: &mut Fields<'_>, samples: usize) -> Result<(), Mp4Error> {
    let at = sbgp.at;
    sbgp.full(0, 0)?;
    if sbgp.take(4)? != b"roll" || sbgp.u32()? != 1 {
        return bad(at, "sbgp is not one roll run");
    }
    if sbgp.u32()? as usize != samples || sbgp.u32()? != 1 {
        return bad(at, "sbgp does not put every sample in the roll group");
    }
    sbgp.done()
}

/// Parses an init segment (`ftyp` + `moov` with `mvex`).
pub fn parse_init(buf: &[u8]) -> Result<Movie, Mp4Error> {
    let top = children(buf, 0..buf.len())?;
    let [ftyp, moov] = top.as_slice() else {
        return bad(0, "an init segment is ftyp then moov");
    };
    if &ftyp.kind != b"ftyp" || &moov.kind != b"moov" {
        return bad(0, "an init segment is ftyp then moov");
    }
    check_ftyp(buf, ftyp)?;
    read_moov(buf, moov, true)
}

/// One fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// `mfhd` sequence number.
    pub sequence: u32,
    /// `tfdt`: the first packet's frame on the track.
    pub base_frame: u64,
    /// Each packet's duration in frames.
    pub durations: Vec<u32>,
    /// The packets.
    pub packets: Vec<Vec<u8>>,
}

/// Parses a media segment: `moof` + `mdat` pairs, nothing else. Checks each `trun`'s data
/// offset against the `mdat` after its `moof`, and that the sizes fill the `mdat` exactly.
pub fn parse_fragments(buf: &[u8]) -> Result<Vec<Fragment>, Mp4Error> {
    let top = children(buf, 0..buf.len())?;
    if top.len() % 2 != 0 || top.is_empty() {
        return bad(0, "a media segment is moof + mdat pairs");
    }
    let mut out = Vec::new();
    for pair in top.chunks(2) {
        let (moof, mdat) = (&pair[0], &pair[1]);
        if &moof.kind != b"moof" || &mdat.kind != b"mdat" {
            return bad(moof.start, "expected moof then mdat");
        }
        let kids = children(buf, moof.body.clone())?;
        if kids.len() != 2 {
            return bad(moof.start, "moof holds mfhd and one traf");
        }
        let mut mfhd = Fields::of(buf, one(&kids, b"mfhd", moof.start)?);
        mfhd.full(0, 0)?;
        let sequence = mfhd.u32()?;
        let traf_box = one(&kids, b"traf", moof.start)?;
        let traf = children(buf, traf_box.body.clone())?;
        let kinds: Vec<[u8; 4]> = traf.iter().map(|b| b.kind).collect();
        if kinds != [*b"tfhd", *b"tfdt", *b"trun", *b"sbgp"] {
            return bad(traf_box.start, "traf is not tfhd, tfdt, trun, sbgp");
        }
        let mut tfhd = Fields::of(buf, &traf[0]);
        tfhd.full(0, 0x02_0000)?;
        if tfhd.u32()? != 1 {
            return bad(traf[0].start, "tfhd is not for track 1");
        }
        tfhd.done()?;
        let mut tfdt = Fields::of(buf, &traf[1]);
        tfdt.full(1, 0)?;
        let base_frame = tfdt.u64()?;
        tfdt.done()?;
        let mut trun = Fields::of(buf, &traf[2]);
        trun.full(0, 0x000301)?;
        let count = trun.u32()? as usize;
        if count == 0 {
            return bad(traf[2].start, "empty trun");
        }
        let data_offset = trun.u32()? as usize;
        if moof.start + data_offset != mdat.body.start {
            return bad(
                traf[2].start,
                "data offset does not point at the mdat payload",
            );
        }
        let mut durations = Vec::with_capacity(count);
        let mut packets = Vec::with_capacity(count);
        let mut at = mdat.body.start;
        for _ in 0..count {
            durations.push(trun.u32()?);
            let size = trun.u32()? as usize;
            if size == 0 || mdat.body.end - at < size {
                return bad(traf[2].start, "sample sizes overrun the mdat");
            }
            packets.push(buf[at..at + size].to_vec());
            at += size;
        }
        trun.done()?;
        if at != mdat.body.end {
            return bad(mdat.start, "mdat holds bytes no sample covers");
        }
        read_sbgp(&mut Fields::of(buf, &traf[3]), count)?;
        out.push(Fragment {
            sequence,
            base_frame,
            durations,
            packets,
        });
    }
    Ok(out)
}

/// A media segment's packets, checked to be contiguous: every `tfdt` equals the previous
/// fragment's `tfdt` plus its durations, sequence numbers grow, and every duration but the
/// last is 960. Returns (first frame, frames, packets).
pub fn contiguous_packets(buf: &[u8]) -> Result<(u64, u64, Vec<Vec<u8>>), Mp4Error> {
    let fragments = parse_fragments(buf)?;
    let total: usize = fragments.iter().map(|f| f.durations.len()).sum();
    let first = fragments[0].base_frame;
    let (mut next, mut seq, mut seen) = (first, 0u32, 0usize);
    let mut packets = Vec::with_capacity(total);
    for f in fragments {
        if f.base_frame != next {
            return bad(0, format!("tfdt {} where {next} was due", f.base_frame));
        }
        if f.sequence <= seq {
            return bad(0, "sequence numbers do not grow");
        }
        seq = f.sequence;
        for &d in &f.durations {
            seen += 1;
            if (seen < total && d != 960) || d == 0 || d > 960 {
                return bad(0, format!("packet {seen} of {total} lasts {d} frames"));
            }
            next += u64::from(d);
        }
        packets.extend(f.packets);
    }
    Ok((first, next - first, packets))
}

/// A whole-track file: its movie and its packets (read through the `co64` offset and `stsz`).
pub fn parse_file(buf: &[u8]) -> Result<(Movie, Vec<Vec<u8>>), Mp4Error> {
    let top = children(buf, 0..buf.len())?;
    let kinds: Vec<[u8; 4]> = top.iter().map(|b| b.kind).collect();
    if kinds != [*b"ftyp", *b"moov", *b"mdat"] {
        return bad(0, "a whole file is ftyp, moov, mdat");
    }
    check_ftyp(buf, &top[0])?;
    let movie = read_moov(buf, &top[1], false)?;
    let mdat = &top[2];
    let mut at = movie.chunk_offset.unwrap_or(0) as usize;
    if at != mdat.body.start {
        return bad(
            mdat.start,
            "chunk offset does not point at the mdat payload",
        );
    }
    let mut packets = Vec::new();
    for &s in &movie.sample_sizes {
        let s = s as usize;
        if mdat.body.end - at < s {
            return bad(mdat.start, "sample sizes overrun the mdat");
        }
        packets.push(buf[at..at + s].to_vec());
        at += s;
    }
    if at != mdat.body.end {
        return bad(mdat.start, "mdat holds bytes no sample covers");
    }
    Ok((movie, packets))
}

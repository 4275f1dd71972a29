/*
 * hr_format.h — every on-disk format of the engine, documented in one place.
 * All integers are little-endian. CRC32C is hr_crc32c(0, ...). Each section
 * below belongs to one module; its constants are used by that module only.
 */
#ifndef HR_FORMAT_H
#define HR_FORMAT_H

#include <stdint.h>

/* ======================================================================
 * Store files (engine/sfile, hr_sfile.h)
 * ======================================================================
 * One immutable file per flush/compaction output of one store:
 *
 *   data block 0 | data block 1 | ... | index block | [bloom block]
 *   | info block | trailer (HR_SFILE_TRAILER_LEN bytes, at the very end)
 *
 * Every block (data, index, bloom, info) is framed the same way:
 *   u32 payload_len | payload | u32 crc
 * where crc = CRC32C over (u32 payload_len | payload): the length is
 * covered too. Readers know each block's on-disk length (from the index or
 * the trailer) and require it to equal payload_len + 8.
 *
 * Versions (trailer field): the version names the entry encoding used by
 * data blocks, index keys and info keys; everything else is the same.
 *   1  entries without tags, hr_kv format 1 (25-byte header):
 *        u16 row_len | u16 qual_len | u32 value_len | i64 ts | u64 seq
 *        | u8 type | row | qualifier | value
 *   2  (HBase's HFile v3: cells carry tags) hr_kv format 2 (27-byte header):
 *        u16 row_len | u16 qual_len | u32 value_len | i64 ts | u64 seq
 *        | u8 type | u16 tags_len | row | qualifier | value | tags
 *      tags = the cell's tag area (hregionfs.h, "Cell tags"; tag payloads
 *      below), tags_len <= 65535.
 *   3  (compression) entries as version 2; every DATA block's payload
 *      starts with an 8-byte block header, then the block body:
 *        0 u8 codec (HR_SFILE_CODEC_*: 0 none, 1 lz4, 2 zstd)
 *        1 u8 flags (bit 0 HR_SFILE_BLK_INCOMPRESSIBLE: the family asked
 *               for a codec, the block did not shrink, so it is stored raw)
 *        2 u16 reserved (0)
 *        4 u32 raw_len: the length of the block's data-block payload
 *               (entries | off[] | pfx[] | lcp | n, below) once decoded
 *        8 body: codec 0 = those raw_len bytes as they are (raw_len must
 *               equal payload_len - 8); lz4 = one LZ4 block (the raw block
 *               format, LZ4_compress_default); zstd = one zstd frame with
 *               its content size (ZSTD_compress, level zstd_level).
 *      The frame's CRC32C covers the stored (compressed) bytes, header
 *      included, so a damaged block is found before any decoder runs; a
 *      decoder is then bounded by raw_len (at most HR_SFILE_MAX_RAW_BLOCK
 *      for a compressed block) and must produce exactly raw_len bytes,
 *      else the block is corrupt (-EIO). A block is stored compressed only
 *      when that makes the frame smaller. Index, bloom and info blocks are
 *      never compressed (they are read once, at open, and kept in memory),
 *      and have no block header. The block cache holds decoded blocks.
 * Readers accept HR_SFILE_VERSION_MIN..HR_SFILE_VERSION, so a store may
 * hold files of every version (a version-1 cell reads with no tags; a
 * store of uncompressed version-2 files goes on reading them after its
 * family turns compression on, and its compactions rewrite them as
 * version 3); writers (flush, compaction, split) always write
 * HR_SFILE_VERSION, whatever the family's compression (codec 0 blocks).
 *
 * Data block payload (in version 3: the decoded body; target size: the
 * family's block size; one entry
 * larger than that makes one larger block):
 *   entry 0 | ... | entry n-1 | u32 off[n] | u32 pfx[n] | u32 lcp | u32 n
 * An entry is one cell in the file version's encoding. off[i] is entry i's byte
 * offset inside the payload: off[0] = 0, strictly increasing, and entry i
 * spans exactly off[i]..off[i+1] (the last one ends where off[] begins).
 * Entries are in hr_kv_cmp order within and across blocks; n >= 1.
 * lcp = the length of the common prefix of the first and last entry's
 * rows (so of every row in the block); pfx[i] = hr_sfile_row_prefix(row_i
 * + lcp, row_len_i - lcp): the 4 row bytes after it, zero-padded, as a
 * big-endian number. A seek binary-searches off[]/pfx[] and decodes an
 * entry only when pfx ties (fewer cache misses than decoding every probe).
 *
 * Index block payload:
 *   u32 count | count x (u64 block_off | u32 block_disk_len | first key)
 * first key = the block's first entry, encoded as an entry with value_len
 * 0 (and tags_len 0).
 * Blocks are listed in file order, contiguous from offset 0.
 *
 * Bloom block payload (present only for bloom=row families):
 *   u32 k | u32 hash_version (1) | u64 nbits | ceil(nbits/8) bytes of bits
 * over the distinct rows of the file. h = hr_sfile_row_hash(row) (64-bit);
 * probe i (0..k-1) tests bit ((h & 0xffffffff) + i * (h >> 32)) mod nbits,
 * bit b living in byte b/8, mask 1 << (b%8). Sized 10 bits per row, k = 7.
 *
 * Info block payload (HR_SFILE_INFO_FIXED bytes, then the two keys):
 *   u64 max_seq | u64 entry_count | u64 row_count | u64 delete_count
 *   | i64 min_ts | i64 max_ts | u64 data_block_count | u64 data_bytes
 *   | u32 block_size | u32 flags (bit 0: has bloom)
 *   | first key | last key        (encoded as entries with value_len 0 and
 *                                  tags_len 0; absent when entry_count is 0)
 *
 * Trailer (fixed size, not framed; its own CRC in the last 4 bytes):
 *   0  char magic[8] "HRSTORE1"
 *   8  u32 version (HR_SFILE_VERSION_MIN..HR_SFILE_VERSION, see above)
 *   12 u32 reserved (0)
 *   16 u64 index_off   | 24 u64 index_len     (on-disk, framing included)
 *   32 u64 bloom_off   | 40 u64 bloom_len     (0, 0 when no bloom)
 *   48 u64 info_off    | 56 u64 info_len
 *   64 u32 reserved (0)
 *   68 u32 crc = CRC32C of bytes 0..67
 * A reader rejects a wrong magic, version or CRC, and any block range
 * that overlaps the trailer or runs past the file.
 */
#define HR_SFILE_MAGIC "HRSTORE1"
#define HR_SFILE_VERSION 3u     /* written */
#define HR_SFILE_VERSION_MIN 1u /* oldest still read */
#define HR_SFILE_TRAILER_LEN 72u
#define HR_SFILE_BLOOM_HASH_VERSION 1u
#define HR_SFILE_INFO_FIXED 72u
#define HR_SFILE_INFO_HAS_BLOOM 1u
#define HR_SFILE_BLK_HDR 8u	 /* version 3 data-block header */
#define HR_SFILE_CODEC_NONE 0u
#define HR_SFILE_CODEC_LZ4 1u
#define HR_SFILE_CODEC_ZSTD 2u
#define HR_SFILE_BLK_INCOMPRESSIBLE 1u
#define HR_SFILE_MAX_RAW_BLOCK (64u << 20) /* larger blocks are stored raw */

/* ======================================================================
 * Cell tags (hregionfs.h "Cell tags", engine/util/tags.c, hr_tags.h)
 * ======================================================================
 * A cell's tag area (in memstores, store files of version 2 and WAL edits
 * of version 2) is at most 65535 bytes: a sequence of tags, each
 *   u16 len (of type + value, >= 1) | u8 type | value[len - 1]
 * The engine checks the structure on write and stores the area as is.
 *
 * Tag types (hregionfs.h):
 *   1 HR_TAG_FILE_ATTR, the attributes a file-system front end shows for the
 *     cell; value (40 bytes, HR_FILE_ATTR_TAG_LEN = 43 with len and type):
 *       0  u32 mode (permission bits, 07777)
 *       4  u32 uid | 8 u32 gid
 *       12 u32 reserved (0)
 *       16 i64 mtime_ns | 24 i64 atime_ns | 32 i64 ctime_ns (since the epoch)
 *     A reader takes the first such tag of an area and reads its first 40
 *     bytes (a later version may append fields); a shorter one is malformed. */

/* ======================================================================
 * WAL segments (engine/wal, hr_wal.h)
 * ======================================================================
 * Never compressed: a record is small (one row mutation), written once and
 * read only by replay, and group commit's latency is the write path's;
 * compressing it would cost every put for no lasting saving (the WAL is
 * deleted once flushed; store files are where the bytes stay).
 * The wal dir is <data>/wal, or <data>/wal/<server name> for a region
 * server in cluster mode (hr_host.h; same format, its own segment ids).
 * One file per segment: <wal dir>/<segment id as %016llx>.wal, created as
 * "<name>.tmp" with its header, fdatasynced, renamed, directory fsynced; then
 * only appended to. A new process never appends to an old segment.
 *
 * Header (HR_WAL_HDR_LEN bytes):
 *   0  char magic[8] "HRWALSG1"
 *   8  u32 version (HR_WAL_VERSION)
 *   12 u32 header length (HR_WAL_HDR_LEN)
 *   16 u64 segment id (must match the file name)
 *   24 u32 reserved (0)
 *   28 u32 crc = CRC32C of bytes 0..27
 * A bad header makes replay skip the whole file (with a warning).
 *
 * Records follow back to back until the end of the file:
 *   0  u32 payload_len (<= HR_WAL_MAX_PAYLOAD)
 *   4  u64 seq
 *   12 u32 crc = CRC32C over (payload_len | seq | payload)
 *   16 payload (opaque to the WAL; the region layer's encoding)
 * seq 0 marks a control record of the WAL itself (never an edit; the owner
 * never sees it). Only the first record of a segment may be one, written
 * with the header before the segment gets its name:
 *   0  u8  type (HR_WAL_CTL_LIMITS)
 *   1  u8  reserved[3] (0)
 *   4  u32 count
 *   8  count x { u64 segment id, u64 valid end }
 * "Segment <id> holds records only up to offset <valid end>": the bytes
 * after it are a batch whose write failed (its writers got the error) or a
 * torn tail trimmed by an earlier recovery; replay ignores them. Listed in
 * every new segment while the named segment exists.
 * A record is bad if its length is out of range, it runs past the end of
 * the file (or past its segment's valid end), or its CRC mismatches. What
 * replay does then (a torn tail of the newest segment, or corruption
 * handled by the recovery mode) is in hr_wal.h, "replay".
 */
/* WAL edits (engine/server/edit.c, hr_server.h): the payload of one record
 * is one row mutation:
 *   u64 region id | u16 row_len | row | u16 ncells
 *   | ncells x ( u8 family_len | family | cell )
 * where a cell is an entry in the hr_kv encoding the segment's version
 * names, with row_len 0 and seq 0 (the row is the edit's, the seq the
 * record's):
 *   version 1: u16 0 | u16 qual_len | u32 value_len | i64 ts | u64 0 | u8 type
 *              | qualifier | value
 *   version 2: u16 0 | u16 qual_len | u32 value_len | i64 ts | u64 0 | u8 type
 *              | u16 tags_len | qualifier | value | tags
 * Deletes have value_len 0 and tags_len 0. */
#define HR_WAL_MAGIC "HRWALSG1"
/* The version names the edit encoding of the payloads (hr_server.h): 1 =
 * cells without tags, 2 = cells with tags. Replay decodes each record by its
 * segment's version. */
#define HR_WAL_VERSION 2u	  /* written (the edit encoding of hr_server.h) */
#define HR_WAL_VERSION_MIN 1u /* oldest still replayed */
#define HR_WAL_HDR_LEN 32u
#define HR_WAL_REC_HDR_LEN 16u
#define HR_WAL_MAX_PAYLOAD (1u << 30)
#define HR_WAL_CTL_LIMITS 1u
#define HR_WAL_CTL_FIXED 8u
#define HR_WAL_CTL_ENTRY 16u

/* Table records (the value of an LMDB "tables" record, key = the table
 * name; engine/meta/meta.c, hr_meta.h):
 *   u32 version (1 or 2) | u32 nfamilies | nfamilies x ( u8 len | name
 *   | u32 max_versions | i64 ttl_ms | u32 block_size | u8 bloom
 *   | u8 compression | [version 2: u8 flags (bit 0 = keep_deleted_cells)] )
 * compression: 0 none, 1 lz4, 2 zstd (hregionfs.h HR_COMPRESSION_*; the
 * field was there from version 1, always 0 until hr_family_alter and
 * create could set it, so no new version came with it). A reader refuses a
 * codec or flag it does not know (-EIO) rather than serve the family with
 * the wrong settings. hr_family_alter rewrites the record in one write
 * transaction. Version 2 is written. */

/* Snapshot manifests (the value of an LMDB "snapshots" record, key
 * table | 0x00 | name; engine/server/snapmanifest.c, hr_snapshot.h):
 *   u32 magic HR_SNAP_MAGIC | u32 version | i64 time_ms | u64 seq | u64 snap_id
 *   | u32 nfamilies | nfamilies x ( u8 len | name | u32 max_versions | i64 ttl_ms
 *     | u32 block_size | u8 bloom | u8 compression | u8 flags (bit 0 =
 *     keep_deleted_cells) )
 *   | u32 nregions | nregions x ( u64 region id | u16 start_len | start
 *     | u16 end_len | end | u16 nstores | nstores x ( u8 len | family
 *     | u32 nfiles | nfiles x ( u64 file id | u64 size ) ) )
 *   | u32 crc = CRC32C of everything before it
 * Files are listed newest first, as in the store; each is read from
 * <data>/archive/<file id>.hsf (hr_fname.h). */
#define HR_SNAP_MAGIC 0x4e535248u /* "HRSN" */
#define HR_SNAP_VERSION 1u

/* Snapshot exports (hr_snapshot_export / hr_snapshot_import;
 * engine/server/snapexport.c, snapimport.c, the codec in snapmanifest.c):
 * a plain directory, self-contained (nothing else is needed to import it):
 *   <dir>/MANIFEST            the export manifest, below
 *   <dir>/<file id>.hsf       each store file the snapshot references, a
 *                             byte-for-byte copy of archive/<file id>.hsf
 *                             (store-file format above; ids as in hr_fname.h)
 * MANIFEST:
 *   0  char magic[8] "HREXPRT1"
 *   8  u32 version (HR_EXPORT_VERSION)
 *   12 u32 reserved (0)
 *   16 u16 table_len | table | u16 name_len | name   (the snapshot's)
 *   | u32 manifest_len | manifest (the "Snapshot manifests" encoding above,
 *     with its own magic, version and CRC)
 *   | u32 nfiles | nfiles x ( u64 file id | u64 size | u32 crc32c of the
 *     file's bytes )       (each distinct file the manifest names, once)
 *   | u32 crc = CRC32C of everything before it
 * Export writes everything into <parent>/.tmp-<name>.<pid>/, fsyncs each
 * file and the directory, then renames it to <dir> and fsyncs <parent>: a
 * directory named <dir> is always a whole export. Import refuses (-EIO) a
 * MANIFEST with a bad magic, version, length or CRC, a file missing, of
 * another size, or whose bytes fail their CRC32C. */
#define HR_EXPORT_MAGIC "HREXPRT1"
#define HR_EXPORT_VERSION 1u
#define HR_EXPORT_MANIFEST_MAX (256u << 20)

/* ======================================================================
 * storage=rados: the data directory as RADOS objects (engine/io/io_rados.c)
 * ======================================================================
 * Everything hr_io does below the data directory happens in one pool and
 * namespace (rados_pool, rados_namespace; hr_rados.h). The layout follows
 * CephFS: names live in directory objects, bytes in inode objects, so a
 * rename or a link rewrites one name and never copies data.
 *   hr.<ino>        the inode's head object (<ino>: 16 lowercase hex
 *                   digits, a random 64-bit id; the data directory itself
 *                   is ino 1). A directory's omap holds its entries; a
 *                   file's data holds bytes [0, HR_RADOS_CHUNK).
 *   hr.<ino>.<n>    chunk n >= 1 of a file (<n>: lowercase hex, no
 *                   padding): bytes [n * HR_RADOS_CHUNK, (n+1) * ...).
 *                   RADOS objects are meant to stay small (the OSD refuses
 *                   more than osd_max_object_size, 128 MiB by default),
 *                   while WAL segments and store files grow to GiBs. A
 *                   missing chunk or a chunk shorter than the file reads
 *                   as zeros (a hole).
 * A directory entry: omap key = the name (no '/', not "." or ".."),
 * value HR_RADOS_DENT_LEN bytes:
 *   0 u8 version (HR_RADOS_VERSION) | 1 u8 type ('f' file, 'd' directory)
 *   | 2 u64 ino | 10 u32 crc32c of bytes 0..9
 * Head object xattrs (a directory has only hr.nlink):
 *   hr.nlink  u8 version | u32 names pointing at the inode | u32 crc32c
 *   hr.size   u8 version | u64 file size in bytes | u32 crc32c
 *             (each crc over the bytes before it; integers little-endian)
 * Order of writes (the crash rule: a name may leak an inode, never point
 * at a removed one): create = head object first, then the name; link and
 * a rename across directories = nlink + 1 first, then the names; unlink =
 * the name first, then nlink - 1, and the objects go only when it reaches
 * 0 (and no descriptor of this process has the file open: POSIX keeps an
 * unlinked open file readable, and compaction relies on it). A rename
 * within one directory is one write op (set + remove of two omap keys):
 * atomic. A leaked inode (nlink above its names) is space, never a wrong
 * answer.
 * Durability: a write acknowledged by RADOS is on every replica of the
 * pool, so name operations are durable when they return (sync_dir only
 * checks the directory exists), and file data when its write returned
 * (or, for a file opened HR_IO_WRITEBACK, when hr_io_sync has waited for
 * its pipelined writes). hr.size is rewritten by each write that
 * extends the file, in the order the writes were issued (RADOS applies one
 * client's operations on one object in order), so it only grows while a
 * file is written. After a crash, bytes written but not synced read as
 * their data or as zeros, as after a power loss on a local disk (the WAL's
 * CRCs find such a torn tail).
 * Name mutations are serialised inside one process. Across processes
 * (cluster servers sharing a namespace) mkdir holds a RADOS advisory lock
 * "hr.mkdir" on the parent directory object (cls_lock, expiring after 10 s
 * if its holder dies), so two servers making one directory make it once;
 * other name operations of two processes on the same names are not
 * serialised (each server writes names of its own: its WAL directory,
 * store files with ids from meta's counter). */
#define HR_RADOS_VERSION 1u
#define HR_RADOS_CHUNK (4u << 20)
#define HR_RADOS_ROOT_INO 1u
#define HR_RADOS_DENT_LEN 14u
#define HR_RADOS_NLINK_LEN 9u
#define HR_RADOS_SIZE_LEN 13u
#define HR_RADOS_XATTR_NLINK "hr.nlink"
#define HR_RADOS_XATTR_SIZE "hr.size"

/* ======================================================================
 * Region metadata in RADOS (storage=rados; engine/meta/meta_rados.c,
 * hr_meta.h)
 * ======================================================================
 * The databases of hr_meta.h are the omap of ONE object, "hregionfs.meta"
 * (HR_META_RADOS_OBJECT), in the pool and namespace of the data directory.
 * Values are the LMDB records' bytes exactly, for both backends:
 *   table record, snapshot manifest: above;
 *   region: u8 state | u8 tlen | table | u16 slen | start | u16 elen | end;
 *   store: u64 flushed seq | u32 n | n x u64 file id (newest first);
 *   counter: u64; wal segment: empty.
 * (LMDB keys: region id and segment id u64 big-endian, store key region
 * id BE | family, snapshot key table | 0x00 | name, names as bytes.)
 * RADOS keys are printable so that listing can page with start_after /
 * filter_prefix (C strings); binary parts are lowercase hex,
 * which keeps LMDB's order (bytewise, shorter first) within a database:
 *   format                          -> u32 HR_META_RADOS_FORMAT (1)
 *   tables/<name>                   -> table record
 *   regions/<id: 16 hex>            -> region record
 *   stores/<region id: 16 hex>/<family> -> store record
 *   wal/<owner>/<segment id: 16 hex> -> (empty)   owner: the server name,
 *                                       "" single-node ("wal//..."); no '/'
 *   counters/<name>                 -> u64 counter
 *   snapshots/<table in hex>/<name> -> snapshot manifest (the table is hex
 *                                       so that "a" sorts before "a-b")
 * A write transaction is one write operation: its omap_cmp checks (EQ the
 * value it read; EQ "" for "no record": no guarded record is ever empty),
 * then omap_set and omap_rm_keys; the OSD applies all or nothing
 * (-ECANCELED when a check fails). A counter allocation is a
 * compare-and-swap: cmp EQ the value read, set the new one, retried. An
 * object without the format record gets it at open (create + set); one
 * with another value is refused (-EIO). */
#define HR_META_RADOS_FORMAT 1u

/* ======================================================================
 * The control socket (engine/ctl, hregionctl <-> the daemon)
 * ======================================================================
 * Not on disk but on <data>/ctl.sock: length-prefixed frames with a
 * version byte and a CRC32C, described with their payloads in
 * include/ctl/hrctl_proto.h (HRCTL_PROTO_VERSION). */

/* ======================================================================
 * RPC (engine/rpc, engine/client; hr_rpc.h): mount <-> region servers
 * ======================================================================
 * Not on disk but on TCP. Frames are the control socket's (above):
 *   u32 len | u8 version (HR_RPC_VERSION 1) | u8 type | payload | u32 crc
 * with len <= HR_RPC_MAX_FRAME - 4, checked before the rest is read, and
 * every payload starting with u64 request id. Types: hr_rpc_type.
 * Encodings used below (little-endian):
 *   bytes  = u32 n | n bytes          str = bytes, no NUL inside
 *   nbytes = u32 n | n bytes, or u32 0xffffffff = absent (NULL)
 *   name   = str of 1..HR_MAX_NAME bytes (table, family)
 *   family schema = name | u32 max_versions | i64 ttl_ms | u32 block_size
 *                 | u8 bloom | u8 compression | u8 keep_deleted_cells
 *   table schema  = name | u32 nfamilies (<= HR_MAX_FAMILIES) | families
 * Requests (after the id):
 *   GET            name table | bytes row | name family | bytes qual | u32 flags
 *   GET_VERSIONS   as GET without flags | u32 max_versions | i64 min_ts
 *                  | i64 max_ts | u32 flags
 *   EXISTS         name table | bytes row | nbytes family | nbytes qual
 *   MUTATE         name table | bytes row | u32 flags | u32 ncells
 *                  (1..HR_RPC_MAX_CELLS) | ncells x cell
 *     cell = name family | bytes qual | i64 ts | u8 type | bytes value
 *            | bytes tags
 *   CHECK_AND_MUTATE  name table | bytes row | u32 flags | u32 nchecks |
 *                  nchecks x ( name family | bytes qual | u8 op | i64 ts
 *                  | u64 seq | bytes value ) | u32 ncells | cells
 *   SCAN_OPEN      name table | nbytes start | nbytes stop | nbytes prefix
 *                  | nbytes family | nbytes resume_family
 *                  | nbytes resume_qualifier | u8 start_after_row | u8 mode
 *                  | u8 with_values | u8 history | i64 max_ts | u32 batch
 *   SCAN_NEXT      u64 cursor | u32 batch (1..HR_RPC_MAX_BATCH)
 *   SCAN_CLOSE     u64 cursor
 *   TABLE_LIST     (nothing)
 *   TABLE_SCHEMA   name table         DROP_TABLE   name table
 *   STATS          (nothing)
 *   LOCATE         name table | bytes row
 *   CREATE_TABLE   table schema       FAMILY_ADD   name table | family schema
 * Response (type HR_RPC_RESPONSE): u64 id | i32 err | body, body only when
 * err is 0; bodies by the request's type:
 *   GET            u64 len | i64 ts | u64 seq | u64 tags_len | nbytes data
 *                  | nbytes tags
 *   GET_VERSIONS   u32 n | n x ( the GET body )
 *   EXISTS         u8 0/1
 *   MUTATE, CHECK_AND_MUTATE   i64 ts | u64 seq   (the stamp)
 *   SCAN_OPEN      u64 cursor | then as SCAN_NEXT
 *   SCAN_NEXT      u8 done | u32 n (<= HR_RPC_MAX_BATCH) | n x entry
 *     entry = bytes row | nbytes family | nbytes qual | i64 ts | u64 seq
 *             | u64 value_len | nbytes value | nbytes tags
 *   TABLE_LIST     u32 n | n x name
 *   TABLE_SCHEMA   table schema
 *   STATS          bytes text
 *   LOCATE         u64 region id | bytes start | bytes end | str addr
 *   SCAN_CLOSE, DROP_TABLE, CREATE_TABLE, FAMILY_ADD: (nothing)
 * A decoder refuses (-EBADMSG) a length beyond what is left, a count
 * beyond its bound, a name out of 1..HR_MAX_NAME or with a NUL, and
 * trailing bytes. */

#endif


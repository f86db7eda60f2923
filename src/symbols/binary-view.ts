// Fixed-width reads from a buffer in one byte order, for the ELF and Go table readers. Numbers,
// not bigints, wherever a value is a user-space address or a file offset (both < 2^53); u64Big
// for the few that are not.

export class BinaryView {
  constructor(readonly bytes: Buffer, readonly littleEndian: boolean) {}

  get length(): number {
    return this.bytes.length;
  }

  u8(offset: number): number {
    return this.bytes[offset];
  }

  u16(offset: number): number {
    return this.littleEndian ? this.bytes.readUInt16LE(offset) : this.bytes.readUInt16BE(offset);
  }

  u32(offset: number): number {
    return this.littleEndian ? this.bytes.readUInt32LE(offset) : this.bytes.readUInt32BE(offset);
  }

  u64Big(offset: number): bigint {
    return this.littleEndian ? this.bytes.readBigUInt64LE(offset) : this.bytes.readBigUInt64BE(offset);
  }

  /** A 64-bit value as a number; exact below 2^53, which holds for user addresses and sizes. */
  u64(offset: number): number {
    const lo = this.u32(this.littleEndian ? offset : offset + 4);
    const hi = this.u32(this.littleEndian ? offset + 4 : offset);
    return hi * 0x1_0000_0000 + lo;
  }

  /** A pointer-sized (4 or 8 byte) value. */
  word(offset: number, size: number): number {
    return size === 4 ? this.u32(offset) : this.u64(offset);
  }

  /** The NUL-terminated string at offset (latin1 would garble UTF-8 file names). */
  cString(offset: number): string {
    const end = this.bytes.indexOf(0, offset);
    return this.bytes.toString('utf8', offset, end < 0 ? this.bytes.length : end);
  }
}

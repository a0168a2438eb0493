/**
 * A minimal protobuf reader for OTLP trace export requests (opentelemetry/proto/collector/trace/
 * v1/trace_service.proto), for the test receiver (otlp-receiver.ts). The OTLP packages installed
 * here (0.301) encode by hand and ship no decoder, and protobufjs is not installed, so this reads
 * the wire format directly: only the fields a test asserts on, every other field skipped by its
 * wire type.
 */

/** OTLP's attribute value (AnyValue), as plain JavaScript. int64 becomes a number (tests' values are small). */
export type AttributeValue =
  | string
  | number
  | boolean
  | Uint8Array
  | AttributeValue[]
  | { [key: string]: AttributeValue }
  | null;

/** One span of an export request, in the shape the JSON and protobuf encodings share. */
export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceState: string | undefined;
  name: string;
  /** OTLP's SpanKind number: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttributeValue>;
  /** OTLP's StatusCode number: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string | undefined;
  scope: string;
  resource: Record<string, AttributeValue>;
}

enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** Reads one message's fields in order; each field's value is read by the matching method. */
class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  done(): boolean {
    return this.at >= this.bytes.length;
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: number } {
    const tag = Number(this.varint());
    return { field: tag >>> 3, wire: tag & 7 };
  }

  varint(): bigint {
    let result = 0n;
    // A varint is at most 10 bytes (64 bits, 7 per byte).
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.at >= this.bytes.length) throw new Error('protobuf: truncated varint');
      const byte = this.bytes[this.at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new Error('protobuf: varint longer than 10 bytes');
  }

  fixed64(): bigint {
    const view = this.view(8);
    return view.getBigUint64(0, true);
  }

  double(): number {
    return this.view(8).getFloat64(0, true);
  }

  bytesField(): Uint8Array {
    const length = Number(this.varint());
    if (this.at + length > this.bytes.length) throw new Error('protobuf: truncated field');
    const value = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }

  string(): string {
    return new TextDecoder().decode(this.bytesField());
  }

  skip(wire: number): void {
    if (wire === Wire.Varint) this.varint();
    else if (wire === Wire.Fixed64) this.view(8);
    else if (wire === Wire.Bytes) this.bytesField();
    else if (wire === Wire.Fixed32) this.view(4);
    else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }

  private view(length: number): DataView {
    if (this.at + length > this.bytes.length) throw new Error('protobuf: truncated fixed field');
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, length);
    this.at += length;
    return view;
  }
}

/** Calls `on` for each field of the message in `bytes`; `on` reads the value or returns false to skip it. */
function fields(bytes: Uint8Array, on: (field: number, wire: number, r: Reader) => boolean): void {
  const r = new Reader(bytes);
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (!on(field, wire, r)) r.skip(wire);
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function anyValue(bytes: Uint8Array): AttributeValue {
  let value: AttributeValue = null;
  fields(bytes, (field, wire, r) => {
    if (field === 1 && wire === Wire.Bytes) value = r.string();
    else if (field === 2 && wire === Wire.Varint) value = r.varint() !== 0n;
    else if (field === 3 && wire === Wire.Varint) value = Number(BigInt.asIntN(64, r.varint()));
    else if (field === 4 && wire === Wire.Fixed64) value = r.double();
    else if (field === 5 && wire === Wire.Bytes) {
      const values: AttributeValue[] = [];
      fields(r.bytesField(), (f, w, inner) => {
        if (f !== 1 || w !== Wire.Bytes) return false;
        values.push(anyValue(inner.bytesField()));
        return true;
      });
      value = values;
    } else if (field === 6 && wire === Wire.Bytes) value = keyValues(r.bytesField(), 1);
    else if (field === 7 && wire === Wire.Bytes) value = r.bytesField();
    else return false;
    return true;
  });
  return value;
}

/** The repeated KeyValue at `field` of a message, as a plain object. */
function keyValues(bytes: Uint8Array, field: number): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  fields(bytes, (f, wire, r) => {
    if (f !== field || wire !== Wire.Bytes) return false;
    let key = '';
    let value: AttributeValue = null;
    fields(r.bytesField(), (kf, kw, kr) => {
      if (kf === 1 && kw === Wire.Bytes) key = kr.string();
      else if (kf === 2 && kw === Wire.Bytes) value = anyValue(kr.bytesField());
      else return false;
      return true;
    });
    out[key] = value;
    return true;
  });
  return out;
}

function span(
  bytes: Uint8Array,
  scope: string,
  resource: Record<string, AttributeValue>,
): DecodedSpan {
  const s: DecodedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: undefined,
    traceState: undefined,
    name: '',
    kind: 0,
    startNs: 0n,
    endNs: 0n,
    attributes: {},
    statusCode: 0,
    statusMessage: undefined,
    scope,
    resource,
  };
  fields(bytes, (field, wire, r) => {
    if (field === 1 && wire === Wire.Bytes) s.traceId = hex(r.bytesField());
    else if (field === 2 && wire === Wire.Bytes) s.spanId = hex(r.bytesField());
    else if (field === 3 && wire === Wire.Bytes) s.traceState = r.string() || undefined;
    else if (field === 4 && wire === Wire.Bytes) s.parentSpanId = hex(r.bytesField()) || undefined;
    else if (field === 5 && wire === Wire.Bytes) s.name = r.string();
    else if (field === 6 && wire === Wire.Varint) s.kind = Number(r.varint());
    else if (field === 7 && wire === Wire.Fixed64) s.startNs = r.fixed64();
    else if (field === 8 && wire === Wire.Fixed64) s.endNs = r.fixed64();
    else if (field === 15 && wire === Wire.Bytes) {
      fields(r.bytesField(), (sf, sw, sr) => {
        if (sf === 2 && sw === Wire.Bytes) s.statusMessage = sr.string() || undefined;
        else if (sf === 3 && sw === Wire.Varint) s.statusCode = Number(sr.varint());
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  // Attributes are field 9, read in a second pass (keyValues walks the message itself).
  s.attributes = keyValues(bytes, 9);
  return s;
}

/** The spans of one ExportTraceServiceRequest in protobuf, flattened with their scope and resource. */
export function decodeTraceRequest(bytes: Uint8Array): DecodedSpan[] {
  const spans: DecodedSpan[] = [];
  // ExportTraceServiceRequest.resource_spans = 1
  fields(bytes, (field, wire, r) => {
    if (field !== 1 || wire !== Wire.Bytes) return false;
    const resourceSpans = r.bytesField();
    let resource: Record<string, AttributeValue> = {};
    // ResourceSpans.resource = 1 (Resource.attributes = 1)
    fields(resourceSpans, (rf, rw, rr) => {
      if (rf !== 1 || rw !== Wire.Bytes) return false;
      resource = keyValues(rr.bytesField(), 1);
      return true;
    });
    // ResourceSpans.scope_spans = 2: ScopeSpans.scope = 1 (name = 1), ScopeSpans.spans = 2
    fields(resourceSpans, (rf, rw, rr) => {
      if (rf !== 2 || rw !== Wire.Bytes) return false;
      const scopeSpans = rr.bytesField();
      let scope = '';
      fields(scopeSpans, (sf, sw, sr) => {
        if (sf !== 1 || sw !== Wire.Bytes) return false;
        fields(sr.bytesField(), (nf, nw, nr) => {
          if (nf !== 1 || nw !== Wire.Bytes) return false;
          scope = nr.string();
          return true;
        });
        return true;
      });
      fields(scopeSpans, (sf, sw, sr) => {
        if (sf !== 2 || sw !== Wire.Bytes) return false;
        spans.push(span(sr.bytesField(), scope, resource));
        return true;
      });
      return true;
    });
    return true;
  });
  return spans;
}

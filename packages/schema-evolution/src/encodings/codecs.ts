// One codec per format of DDIA Figures 4-1 to 4-4, each from a well-kept library.
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import avro from 'avsc';
import protobuf from 'protobufjs';
import thrift from 'thrift';
import { type FormatName, PERSON_AVRO, PERSON_PROTO, type Person } from './book-record.js';
import { thriftDecode, thriftEncode } from './thrift-codec.js';

export interface Codec {
  name: FormatName;
  /** Which library produces the bytes. */
  library: string;
  encode(person: Person): Uint8Array;
  decode(bytes: Uint8Array): Person;
}

const avroType = avro.Type.forSchema(PERSON_AVRO as avro.Schema);
const protoRoot = protobuf.parse(PERSON_PROTO, { keepCase: false }).root;
protoRoot.resolveAll(); // applies proto2 rules (required user_name) to the decoder
const protoType = protoRoot.lookupType('Person');

function fromProto(message: protobuf.Message): Person {
  const o = protoType.toObject(message, { longs: Number, defaults: false, arrays: true }) as {
    userName: string;
    favoriteNumber?: number;
    interests: string[];
  };
  return { userName: o.userName, favoriteNumber: o.favoriteNumber ?? null, interests: o.interests };
}

export const CODECS: readonly Codec[] = [
  {
    name: 'json',
    library: 'JSON.stringify (no whitespace)',
    encode: (p) => Buffer.from(JSON.stringify(p)),
    decode: (b) => JSON.parse(Buffer.from(b).toString('utf8')) as Person,
  },
  {
    name: 'msgpack',
    library: '@msgpack/msgpack',
    encode: (p) => msgpackEncode(p),
    decode: (b) => msgpackDecode(b) as Person,
  },
  {
    name: 'thrift-binary',
    library: 'thrift TBinaryProtocol + TBufferedTransport',
    encode: (p) => thriftEncode(thrift.TBinaryProtocol, p),
    decode: (b) => thriftDecode(thrift.TBinaryProtocol, Buffer.from(b)),
  },
  {
    name: 'thrift-compact',
    library: 'thrift TCompactProtocol + TBufferedTransport',
    encode: (p) => thriftEncode(thrift.TCompactProtocol, p),
    decode: (b) => thriftDecode(thrift.TCompactProtocol, Buffer.from(b)),
  },
  {
    name: 'protobuf',
    library: 'protobufjs (proto2)',
    encode: (p) =>
      protoType
        .encode(
          protoType.fromObject({
            userName: p.userName,
            ...(p.favoriteNumber === null ? {} : { favoriteNumber: p.favoriteNumber }),
            interests: p.interests,
          }),
        )
        .finish(),
    decode: (b) => fromProto(protoType.decode(b)),
  },
  {
    name: 'avro',
    library: 'avsc',
    encode: (p) => avroType.toBuffer(p),
    decode: (b) => {
      const v = avroType.fromBuffer(Buffer.from(b)) as Person;
      return { userName: v.userName, favoriteNumber: v.favoriteNumber, interests: v.interests };
    },
  },
];

export function codec(name: FormatName): Codec {
  const found = CODECS.find((c) => c.name === name);
  if (!found) throw new Error(`no codec named ${name}`);
  return found;
}

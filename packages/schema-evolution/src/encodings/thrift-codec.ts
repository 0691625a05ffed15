// The Person struct written and read through the thrift npm package's protocols, making the
// same calls that code generated from THRIFT_IDL would make (writeFieldBegin, writeString ...).
import thrift from 'thrift';
import type { Person } from './book-record.js';

type ProtocolClass = typeof thrift.TBinaryProtocol;

const Type = thrift.Thrift.Type;
const FIELD = { userName: 1, favoriteNumber: 2, interests: 3 } as const;

export function thriftEncode(Protocol: ProtocolClass, person: Person): Buffer {
  const chunks: Buffer[] = [];
  const transport = new thrift.TBufferedTransport(undefined, (message) => chunks.push(message));
  const p = new Protocol(transport);
  p.writeStructBegin('Person');
  p.writeFieldBegin('userName', Type.STRING, FIELD.userName);
  p.writeString(person.userName);
  p.writeFieldEnd();
  if (person.favoriteNumber !== null) {
    p.writeFieldBegin('favoriteNumber', Type.I64, FIELD.favoriteNumber);
    p.writeI64(person.favoriteNumber);
    p.writeFieldEnd();
  }
  p.writeFieldBegin('interests', Type.LIST, FIELD.interests);
  p.writeListBegin(Type.STRING, person.interests.length);
  for (const interest of person.interests) p.writeString(interest);
  p.writeListEnd();
  p.writeFieldEnd();
  p.writeFieldStop();
  p.writeStructEnd();
  transport.flush();
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** Thrown when bytes do not hold a Person (e.g. the required userName is absent). */
export class ThriftDecodeError extends Error {
  override name = 'ThriftDecodeError';
}

export function thriftDecode(Protocol: ProtocolClass, bytes: Buffer): Person {
  let result: Person | undefined;
  let failure: unknown;
  thrift.TBufferedTransport.receiver((transport) => {
    try {
      const p = new Protocol(transport);
      const person: Partial<Person> = { favoriteNumber: null, interests: [] };
      p.readStructBegin();
      for (;;) {
        const { ftype, fid } = p.readFieldBegin();
        if (ftype === Type.STOP) break;
        // Unknown tags are skipped: that is how old code tolerates fields added later.
        if (fid === FIELD.userName && ftype === Type.STRING) person.userName = p.readString();
        else if (fid === FIELD.favoriteNumber && ftype === Type.I64)
          person.favoriteNumber = p.readI64().toNumber(true);
        else if (fid === FIELD.interests && ftype === Type.LIST) {
          const { size } = p.readListBegin();
          person.interests = Array.from({ length: size }, () => p.readString());
          p.readListEnd();
        } else p.skip(ftype);
        p.readFieldEnd();
      }
      p.readStructEnd();
      if (person.userName === undefined)
        throw new ThriftDecodeError('required field userName (1) is missing');
      result = person as Person;
    } catch (err) {
      failure = err;
    }
  })(bytes);
  if (failure) throw failure;
  if (!result) throw new ThriftDecodeError('no struct decoded');
  return result;
}

// The thrift npm package ships no type declarations; these are the members we call.
declare module 'thrift' {
  export const Thrift: {
    Type: ThriftTypes;
  };
  export interface ThriftTypes {
    STOP: number;
    BOOL: number;
    I32: number;
    I64: number;
    DOUBLE: number;
    STRING: number;
    STRUCT: number;
    LIST: number;
  }
  export interface Int64Like {
    toNumber(allowImprecise?: boolean): number;
  }
  export interface TTransport {
    flush(): void;
  }
  export interface TProtocol {
    writeStructBegin(name: string): void;
    writeStructEnd(): void;
    writeFieldBegin(name: string, type: number, id: number): void;
    writeFieldEnd(): void;
    writeFieldStop(): void;
    writeString(value: string): void;
    writeI64(value: number): void;
    writeI32(value: number): void;
    writeListBegin(elementType: number, size: number): void;
    writeListEnd(): void;
    readStructBegin(): unknown;
    readStructEnd(): void;
    readFieldBegin(): { fname: string; ftype: number; fid: number };
    readFieldEnd(): void;
    readString(): string;
    readI64(): Int64Like;
    readI32(): number;
    readListBegin(): { etype: number; size: number };
    readListEnd(): void;
    skip(type: number): void;
  }
  export const TBufferedTransport: {
    new (buffer: Buffer | undefined, onFlush: (message: Buffer) => void): TTransport;
    receiver(callback: (transport: TTransport) => void): (data: Buffer) => void;
  };
  export const TBinaryProtocol: new (transport: TTransport) => TProtocol;
  export const TCompactProtocol: new (transport: TTransport) => TProtocol;
}

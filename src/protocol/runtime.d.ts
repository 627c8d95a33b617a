// Globals that node and GJS (SpiderMonkey 102) both provide, typed as far as the protocol
// layer uses them. Anything else from either runtime is deliberately absent.

interface TextEncoder {
  encode(input?: string): Uint8Array;
}
declare const TextEncoder: new () => TextEncoder;

interface TextDecoder {
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}
declare const TextDecoder: new (label?: string, options?: { fatal?: boolean }) => TextDecoder;

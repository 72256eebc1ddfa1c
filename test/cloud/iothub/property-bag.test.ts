import { describe, expect, it } from 'vitest';
import { decodePropertyBag, encodePropertyBag } from '../../../cloud/iothub/index.js';
import { PropertyBagError } from '../../../cloud/iothub/property-bag.js';

describe('property bag', () => {
  it('decodes what the SDK writes: url-encoded $.-keys as system properties, the rest as application properties', () => {
    // As azure-iot-device-mqtt builds it: querystring.stringify(system) then encodeURIComponent pairs.
    const bag = '%24.mid=m%201&%24.cid=c&%24.uid=u&%24.ct=application%2Fjson&%24.ce=utf-8&seqFrom=1&a%26b=x%3Dy&empty=';
    expect(decodePropertyBag(bag)).toEqual({
      systemProperties: { 'message-id': 'm 1', 'correlation-id': 'c', 'user-id': 'u', 'content-type': 'application/json', 'content-encoding': 'utf-8' },
      properties: { seqFrom: '1', 'a&b': 'x=y', empty: '' },
    });
  });

  it('handles an empty bag, a key without value and unknown $. keys', () => {
    expect(decodePropertyBag('')).toEqual({ systemProperties: {}, properties: {} });
    expect(decodePropertyBag('flag&%24.xyz=1&%24.to=%2Fdevices%2Fd')).toEqual({
      systemProperties: { xyz: '1', to: '/devices/d' },
      properties: { flag: '' },
    });
  });

  it('round-trips through encode', () => {
    const sys = { 'message-id': 'id/1', 'correlation-id': 'ü' };
    const app = { 'k e y': 'v&=v', n: '0' };
    expect(decodePropertyBag(encodePropertyBag(sys, app))).toEqual({ systemProperties: sys, properties: app });
  });

  it('refuses invalid url-encoding', () => {
    expect(() => decodePropertyBag('a=%E0%A4%A')).toThrow(PropertyBagError);
  });
});

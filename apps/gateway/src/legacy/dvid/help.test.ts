import { GENERAL_HELP_HTML, KEYVALUE_HELP } from './help';

describe('GENERAL_HELP_HTML', () => {
  it('is an HTML page listing the routes served above the data instances', () => {
    expect(GENERAL_HELP_HTML.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(GENERAL_HELP_HTML.trimEnd().endsWith('</html>')).toBe(true);
    for (const route of [
      '/api/server/info',
      '/api/server/types',
      '/api/server/compiled-types',
      '/api/help/keyvalue',
      '/api/heartbeat',
      '/api/load',
      'POST /api/repos',
      '/api/repos/info',
      'HEAD /api/repo/&lt;uuid&gt;',
      '/api/repo/&lt;uuid&gt;/instance',
      '/api/repo/&lt;uuid&gt;/branch-versions/&lt;branch&gt;',
      '/api/node/&lt;uuid&gt;/commit',
      '/api/node/&lt;uuid&gt;/status',
      '/api/node/&lt;uuid&gt;/newversion',
      '/api/node/&lt;uuid&gt;/branch',
      '/api/node/&lt;uuid&gt;/tag',
      '/api/node/&lt;uuid&gt;/note',
      '/api/node/&lt;uuid&gt;/log',
    ]) {
      expect(GENERAL_HELP_HTML).toContain(route);
    }
  });

  it('escapes every angle bracket outside its tags', () => {
    const text = GENERAL_HELP_HTML.replace(/<\/?[a-z][^<>]*>|<!DOCTYPE html>/gi, '');
    expect(text).not.toMatch(/[<>]/);
  });
});

describe('KEYVALUE_HELP', () => {
  it('describes every keyvalue endpoint and output option', () => {
    for (const text of [
      'GET  /help',
      'GET  /info',
      'POST /tags[?replace=true]',
      'GET  /keys',
      'GET  /keyrange/<first>/<last>',
      'GET  /keyrangevalues/<first>/<last>',
      'GET  /key/<key>',
      'HEAD /key/<key>',
      'POST /key/<key>',
      'DELETE /key/<key>',
      'GET  /keyvalues',
      'POST /keyvalues',
      'json=true',
      'tar=true',
      'jsontar=true',
      'protobuf=true',
      'check=true',
      'message KeyValues',
    ]) {
      expect(KEYVALUE_HELP).toContain(text);
    }
  });
});

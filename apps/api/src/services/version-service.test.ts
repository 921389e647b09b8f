import type { CollectionsRepository, VersionsRepository } from './ports';
import { VersionService } from './version-service';

describe('VersionService.node', () => {
  it('answers VERSION_NOT_FOUND for a UUID with NUL without asking the repository (Postgres text cannot hold NUL)', async () => {
    const asked: string[] = [];
    const versions = {
      node: (uuid: string) => {
        asked.push(uuid);
        return Promise.resolve(undefined);
      },
    } as unknown as VersionsRepository;
    const service = new VersionService(versions, {} as CollectionsRepository);
    await expect(service.node('space', 'ab\u0000cd')).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    await expect(service.node('space', 'abcd')).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    expect(asked).toEqual(['abcd']);
  });
});

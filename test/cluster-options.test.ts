// The cluster option (docs/cluster.md): checked before anything connects, from code, variables
// and flags alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withEnvOptions } from '../server/src/option-env.ts';
import { clusterOption } from '../server/src/option-values.ts';

test('the cluster option: servers, node name and state replicas checked', () => {
  assert.equal(clusterOption(undefined), undefined);
  assert.equal(clusterOption({ servers: [] }), undefined);
  assert.deepEqual(clusterOption({ servers: ['nats://127.0.0.1:4222'] }), {
    servers: ['nats://127.0.0.1:4222'],
    nodeName: undefined,
    stateReplicas: 1,
  });
  assert.equal(
    clusterOption({ servers: ['nats://a:4222'], nodeName: 'door-1', stateReplicas: 3 })
      ?.stateReplicas,
    3,
  );
  const invalid = { code: 'SB_ERR_OPTIONS_INVALID' };
  assert.throws(() => clusterOption({ servers: ['http://a:4222'] }), invalid);
  assert.throws(() => clusterOption({ servers: ['nats://a'], nodeName: 'a.b' }), invalid);
  for (const stateReplicas of [0, 6, 1.5])
    assert.throws(() => clusterOption({ servers: ['nats://a'], stateReplicas }), invalid);
});

test('the cluster variables make one option', () => {
  const options = withEnvOptions(
    {},
    {
      SWITCHBOARD_CLUSTER: 'nats://a:4222, nats://b:4222',
      SWITCHBOARD_NODE_NAME: 'door-2',
      SWITCHBOARD_STATE_REPLICAS: '3',
    },
  );
  assert.deepEqual(options.cluster, {
    servers: ['nats://a:4222', 'nats://b:4222'],
    nodeName: 'door-2',
    stateReplicas: 3,
  });
  assert.throws(
    () => withEnvOptions({}, { SWITCHBOARD_CLUSTER: 'nats://a', SWITCHBOARD_STATE_REPLICAS: '9' }),
    { code: 'SB_ERR_OPTIONS_INVALID' },
  );
});

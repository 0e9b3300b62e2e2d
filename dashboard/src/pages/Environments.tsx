import { useState } from 'preact/hooks';
import { createEnvironment, type Environment } from '../api';
import { ErrorNote, formatTime, PageHeader } from '../components';

export function Environments(props: {
  environments: Environment[]; currentId: string;
  onCreated: (environment: Environment) => void; onSwitch: (id: string) => void;
}) {
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const environment = await createEnvironment(name.trim());
      setName('');
      props.onCreated(environment);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHeader title="Environments" description="Environments keep apart what your apps own: each has its own access tokens, signing keys and spaces (e.g. development and production)." />
      <form class="card inline-form" onSubmit={create} aria-labelledby="new-env-title">
        <h2 id="new-env-title" class="full-row">Create an environment</h2>
        <label class="field">
          <span>Name</span>
          <input type="text" name="environment-name" required maxLength={255} value={name} placeholder="production"
            onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="button button-primary">Create environment</button>
      </form>
      <ErrorNote error={error} />
      <div class="table-card">
        <table>
          <caption class="visually-hidden">Environments</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Environment ID</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {props.environments.map((env) => (
              <tr key={env.id}>
                <td><strong>{env.name}</strong></td>
                <td><code>{env.id}</code></td>
                <td>{formatTime(env.created_at)}</td>
                <td class="actions">
                  {env.id === props.currentId
                    ? <span class="badge badge-active">current</span>
                    : <button type="button" class="button button-secondary button-small" onClick={() => props.onSwitch(env.id)}>Switch to {env.name}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

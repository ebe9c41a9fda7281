// API areas the product does not use but the local tools and tests drive: Droplets (the runner's stand-in for
// Pulumi's DigitalOcean provider), actions and SSH keys, over the product's HttpClient.
import type { Action, Droplet, DropletCreate, HttpClient } from "do-image/internal";

export class DropletsService {
  constructor(private readonly http: HttpClient) {}

  async create(body: DropletCreate): Promise<Droplet> {
    return (await this.http.request<{ droplet: Droplet }>("POST", "/v2/droplets", { body, createsResource: true })).body.droplet;
  }

  async get(id: number): Promise<Droplet> {
    return (await this.http.request<{ droplet: Droplet }>("GET", `/v2/droplets/${id}`)).body.droplet;
  }

  listByTag(tag: string): AsyncGenerator<Droplet> {
    return this.http.paginate<Droplet>("/v2/droplets", "droplets", { tag_name: tag });
  }

  async delete(id: number): Promise<void> {
    await this.http.request("DELETE", `/v2/droplets/${id}`);
  }
}

export class ActionsService {
  constructor(private readonly http: HttpClient) {}

  async get(id: number): Promise<Action> {
    return (await this.http.request<{ action: Action }>("GET", `/v2/actions/${id}`)).body.action;
  }
}

// One service per API area do-image uses: images, image actions, regions and tags.
import type { HttpClient } from "./http";
import type { Action, CustomImageCreate, Image, ImageUpdate, Region, TagResource } from "./types";

export class ImagesService {
  constructor(private readonly http: HttpClient) {}

  /** Private (user) images, optionally only those with a tag. */
  list(filter: { private?: boolean; tagName?: string } = {}): AsyncGenerator<Image> {
    return this.http.paginate<Image>("/v2/images", "images", { private: filter.private, tag_name: filter.tagName });
  }

  async get(id: number): Promise<Image> {
    return (await this.http.request<{ image: Image }>("GET", `/v2/images/${id}`)).body.image;
  }

  async createCustom(body: CustomImageCreate): Promise<Image> {
    return (await this.http.request<{ image: Image }>("POST", "/v2/images", { body, createsResource: true })).body.image;
  }

  async update(id: number, body: ImageUpdate): Promise<Image> {
    return (await this.http.request<{ image: Image }>("PUT", `/v2/images/${id}`, { body })).body.image;
  }

  async delete(id: number): Promise<void> {
    await this.http.request("DELETE", `/v2/images/${id}`);
  }
}

export class ImageActionsService {
  constructor(private readonly http: HttpClient) {}

  /** Starts copying an image to another region. The response is wrapped in { action } (the spec says otherwise). */
  async transfer(imageId: number, region: string): Promise<Action> {
    return (await this.http.request<{ action: Action }>("POST", `/v2/images/${imageId}/actions`, { body: { type: "transfer", region }, createsResource: true }))
      .body.action;
  }

  async get(imageId: number, actionId: number): Promise<Action> {
    return (await this.http.request<{ action: Action }>("GET", `/v2/images/${imageId}/actions/${actionId}`)).body.action;
  }

  list(imageId: number): AsyncGenerator<Action> {
    return this.http.paginate<Action>(`/v2/images/${imageId}/actions`, "actions", {}, null);
  }
}

export class RegionsService {
  constructor(private readonly http: HttpClient) {}

  list(): AsyncGenerator<Region> {
    return this.http.paginate<Region>("/v2/regions", "regions");
  }
}

export class TagsService {
  constructor(private readonly http: HttpClient) {}

  /** Creates a tag; an existing tag is not an error. (POST /v2/tags lies outside the bundled OpenAPI subset.) */
  async create(name: string): Promise<void> {
    try {
      await this.http.request("POST", "/v2/tags", { body: { name } });
    } catch (err) {
      if ((err as { status?: number }).status !== 422) throw err;
    }
  }

  async tag(name: string, resources: TagResource[]): Promise<void> {
    await this.http.request("POST", `/v2/tags/${encodeURIComponent(name)}/resources`, { body: { resources } });
  }

  async untag(name: string, resources: TagResource[]): Promise<void> {
    await this.http.request("DELETE", `/v2/tags/${encodeURIComponent(name)}/resources`, { body: { resources } });
  }
}

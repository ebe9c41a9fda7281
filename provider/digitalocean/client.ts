// The DigitalOcean client: the services do-image uses, over one HttpClient.
import { HttpClient, type ClientOptions } from "./http";
import { ImageActionsService, ImagesService, RegionsService, TagsService } from "./services";

export class DigitalOceanClient {
  readonly http: HttpClient;
  readonly images: ImagesService;
  readonly imageActions: ImageActionsService;
  readonly regions: RegionsService;
  readonly tags: TagsService;

  constructor(options: ClientOptions = {}) {
    this.http = new HttpClient(options);
    this.images = new ImagesService(this.http);
    this.imageActions = new ImageActionsService(this.http);
    this.regions = new RegionsService(this.http);
    this.tags = new TagsService(this.http);
  }
}

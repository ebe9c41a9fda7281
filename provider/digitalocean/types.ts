// API shapes as DigitalOcean sends them (snake_case), for the calls this project makes.

export type ImageStatus = "NEW" | "available" | "pending" | "deleted" | "retired";

export interface Region {
  name: string;
  slug: string;
  features: string[];
  available: boolean;
  sizes: string[];
}

export interface Image {
  id: number;
  name: string;
  type: "base" | "snapshot" | "backup" | "custom" | "admin";
  distribution: string;
  slug: string | null;
  public: boolean;
  regions: string[];
  created_at: string;
  min_disk_size: number | null;
  size_gigabytes: number | null;
  description?: string;
  tags: string[];
  status: ImageStatus;
  error_message?: string;
}

export interface CustomImageCreate {
  name: string;
  url: string;
  region: string;
  distribution?: string;
  description?: string;
  tags?: string[];
}

export interface ImageUpdate {
  name?: string;
  distribution?: string;
  description?: string;
}

export interface Action {
  id: number;
  status: "in-progress" | "completed" | "errored";
  type: string;
  started_at: string;
  completed_at: string | null;
  resource_id: number | null;
  resource_type: string;
  region?: Region | null;
  region_slug: string | null;
}

export interface NetworkV4 {
  ip_address: string;
  netmask: string;
  gateway: string;
  type: "public" | "private";
}

export interface Droplet {
  id: number;
  name: string;
  memory: number;
  vcpus: number;
  disk: number;
  locked: boolean;
  status: "new" | "active" | "off" | "archive";
  created_at: string;
  features: string[];
  image: Image;
  size_slug: string;
  networks: { v4: NetworkV4[]; v6: { ip_address: string; netmask: number; gateway: string; type: string }[] };
  region: Region;
  tags: string[];
  vpc_uuid?: string;
  volume_ids: string[];
}

export interface DropletCreate {
  name: string;
  region: string;
  size: string;
  image: number | string;
  ssh_keys?: (number | string)[];
  backups?: boolean;
  ipv6?: boolean;
  monitoring?: boolean;
  tags?: string[];
  user_data?: string;
  vpc_uuid?: string;
  with_droplet_agent?: boolean;
}

export interface TagResource {
  resource_id: string;
  resource_type: "droplet" | "image" | "volume" | "volume_snapshot";
}

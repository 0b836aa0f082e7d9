import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { openAdmin, type Admin, type Kafka } from '#libs/kafka';
import { KAFKA, ProblemError } from '#libs/platform';

/**
 * The operator routes' own admin client: connected on first use (most API processes never serve one), shared by
 * their requests, closed on shutdown. A broker that cannot be reached is the client's 503, not a bug's 500.
 */
@Injectable()
export class OperatorKafka implements OnModuleDestroy {
  private admin: Promise<Admin> | undefined;

  constructor(@Inject(KAFKA) readonly kafka: Kafka) {}

  async use<T>(work: (admin: Admin, kafka: Kafka) => Promise<T>): Promise<T> {
    this.admin ??= this.connect();
    let admin: Admin;
    try {
      admin = await this.admin;
    } catch (error) {
      this.admin = undefined;
      throw unavailable(error);
    }
    return work(admin, this.kafka).catch((error: unknown) => {
      throw error instanceof ProblemError || !isKafkaError(error) ? error : unavailable(error);
    });
  }

  private async connect(): Promise<Admin> {
    const admin = openAdmin(this.kafka, 'api-operator');
    await admin.connect();
    return admin;
  }

  async onModuleDestroy(): Promise<void> {
    const admin = await this.admin?.catch(() => undefined);
    await admin?.disconnect();
  }
}

const isKafkaError = (error: unknown): boolean => error instanceof Error && /^Kafka/.test(error.name);

const unavailable = (error: unknown) =>
  new ProblemError('dependency_unavailable', 'the Kafka cluster did not answer; retry shortly', undefined, {
    cause: error,
    retryAfterSeconds: 5,
  });

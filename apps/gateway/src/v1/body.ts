import express, { type RequestHandler } from 'express';
import { invalid } from '@rosetta/core';

/** Any bytes, whatever the Content-Type (record values). */
export function rawBody(limitBytes: number): RequestHandler[] {
  return [express.raw({ type: () => true, limit: limitBytes })];
}

/** A JSON body, and only JSON: another Content-Type is 415. */
export function jsonBody(limitBytes: number): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    next(
      req.is(['application/json', '+json'])
        ? undefined
        : invalid('UNSUPPORTED_MEDIA_TYPE', 'this route takes Content-Type: application/json'),
    );
  };
  return [requireJson, express.json({ type: () => true, limit: limitBytes, strict: true })];
}

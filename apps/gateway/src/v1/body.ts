import express, { type RequestHandler } from 'express';
import { invalid } from '@rosetta/core';

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
